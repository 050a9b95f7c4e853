"""Connectors to the outside systems: Zendesk (zenpy) and Salesforce
(simple-salesforce). They speak the project's vocabulary outward.
"""

import logging

# zenpy logs whole request and response bodies (ticket text, comments, emails)
# at DEBUG, and urllib3 logs request URLs (SOQL with email addresses) at DEBUG.
# No customer text may reach a log line, whatever level the host configures,
# so these two vendor loggers never go below WARNING.
for _name in ("zenpy", "urllib3", "simple_salesforce"):
    logging.getLogger(_name).setLevel(logging.WARNING)
