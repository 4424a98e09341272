kind=rename
#- text
class Downloader:
    def __init__(self, session):
        self.session = session
        self.done = []

    def fetch(self, url):
        response = self.session.get(url)
        response.raise_for_status()
        return response.content

    def fetch_all(self, urls):
        for url in urls:
            self.done.append(self.fetch(url))
        return self.done

    def retry(self, url):
        return self.fetch(url) or self.fetch(url)


def fetch(url):
    return Downloader(None).fetch(url)
#- edit
6: fetch -> download
#- expect
13: fetch -> download
17: fetch -> download
17.2: fetch -> download
