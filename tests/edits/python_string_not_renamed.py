kind=rename
#- text
import logging

logger = logging.getLogger(__name__)


def handle(request, user):
    # user may be None for anonymous requests
    name = user.name if user else "user"
    logger.info("request from user %s", name)
    request.user = user
    return render(request, user=user, title=name)
#- edit
6: user -> account
#- expect
8: user -> account
8.2: user -> account
10.2: user -> account
11.2: user -> account
