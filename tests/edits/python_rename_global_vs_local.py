kind=rename
#- text
import logging

log = logging.getLogger("app")


def start(port):
    log.info("starting on %d", port)


def audit(event):
    log = logging.getLogger("audit")
    log.warning("audit: %s", event)


def stop():
    log.info("stopping")
#- edit
3: log -> logger
#- expect
7: log -> logger
16: log -> logger
