kind=rename
#- text
requests_served = 0


def handle(request):
    global requests_served
    requests_served += 1
    return {"id": requests_served, "path": request.path}


def stats():
    return {"requests_served": requests_served}
#- edit
1: requests_served -> n_requests
#- expect
5: requests_served -> n_requests
6: requests_served -> n_requests
7: requests_served -> n_requests
11.2: requests_served -> n_requests
