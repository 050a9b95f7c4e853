import logging

import connector  # noqa: F401 - importing it caps the vendor loggers


def test_vendor_loggers_cannot_leak_urls_or_bodies(caplog):
    # urllib3 logs the request URL (a SOQL query with the requester's email)
    # when it retries; zenpy logs whole request bodies at DEBUG.
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("urllib3.connectionpool").warning(
            "Retrying after connection broken: "
            "/query/?q=SELECT+Id+WHERE+Email='ana@acme.example'"
        )
        logging.getLogger("zenpy.lib.api").debug(
            "PUT body: {'comment': 'customer text'}"
        )
        logging.getLogger("simple_salesforce.api").info("GET /query?q=ana@acme.example")

    assert "ana@acme.example" not in caplog.text
    assert "customer text" not in caplog.text
