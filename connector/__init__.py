"""Connectors to the outside systems: Zendesk (zenpy) and Salesforce
(simple-salesforce). They speak the project's vocabulary outward.
"""

import logging

# zenpy logs whole request and response bodies (ticket text, comments, emails)
# at DEBUG, and urllib3 logs request URLs (SOQL with email addresses) at DEBUG
# and, when it retries, at WARNING. No customer text may reach a log line,
# whatever level the host configures, so these vendor loggers are capped; the
# connectors log their own failures with identifiers only.
for _name, _level in (
    ("zenpy", logging.WARNING),
    ("simple_salesforce", logging.WARNING),
    ("urllib3", logging.ERROR),
):
    logging.getLogger(_name).setLevel(_level)
