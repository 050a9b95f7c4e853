"""The sandbox's default world: a small Zendesk account and a Salesforce org.

Every name, address and domain is a placeholder (``.example`` domains,
"... Example" people), except the free-mail domains gmail.com and yahoo.co.id,
which appear only as data because the sidecar must recognise them.

Stable ids the configuration can refer to:

====================  ==============  =======================================
constant              value           what
====================  ==============  =======================================
API_USER_ID           900000000001    the Zendesk user the sidecar acts as
GROUP_PLATINUM        360000000101    "Platinum desk"
GROUP_GOLD            360000000102    "Gold desk"
GROUP_SILVER          360000000103    "Silver desk"
GROUP_MANAGEMENT      360000000104    "Management"
GROUP_GENERAL         360000000105    "General" (the normal queue)
GROUP_ESCALATIONS     360000000106    "Escalations"
FIELD_TIER            360000000201    ticket field: tier
FIELD_CONTRACT_VALUE  360000000202    ticket field: contract value
FIELD_SEVERITY        360000000203    ticket field: severity (P1/P2/P3)
FIELD_ACCOUNT_OWNER   360000000204    ticket field: key account manager
====================  ==============  =======================================

The sandbox accepts any custom field id; the ``FIELD_*`` ids are a suggestion.
Salesforce accounts carry the custom fields ``Tier__c`` and
``Contract_Value__c``; their ``Website`` values use the messy real forms
(``www.x``, ``http://www.x``, bare ``x``).
"""

from __future__ import annotations

from typing import Any

ACCOUNT_ID = 12345678
API_USER_ID = 900000000001

GROUP_PLATINUM = 360000000101
GROUP_GOLD = 360000000102
GROUP_SILVER = 360000000103
GROUP_MANAGEMENT = 360000000104
GROUP_GENERAL = 360000000105
GROUP_ESCALATIONS = 360000000106

FIELD_TIER = 360000000201
FIELD_CONTRACT_VALUE = 360000000202
FIELD_SEVERITY = 360000000203
FIELD_ACCOUNT_OWNER = 360000000204

ORG_NUSANTARA = 370000000001
ORG_GLOBEX = 370000000002
ORG_SINAR_JAYA = 370000000003
ORG_SMALL_SHOP = 370000000004
ORG_UNITED_OIL = 370000000005
ORG_TWIN = 370000000006

OWNER_RINA = "005xx000001SbxAAAS"
OWNER_SAM = "005xx000001SbxBAAS"

ACCOUNT_PLATINUM = "001xx000003VipPAAS"
ACCOUNT_GOLD = "001xx000003VipGAAS"
ACCOUNT_SILVER = "001xx000003VipSAAS"
ACCOUNT_PLAIN = "001xx000003VipNAAS"
ACCOUNT_UNITED_OIL = "001xx000003VipUAAS"
ACCOUNT_TWIN_APAC = "001xx000003VipAAAS"
ACCOUNT_TWIN_EMEA = "001xx000003VipEAAS"

# End users worth naming in tests and the demo.
USER_PLATINUM = 900000000101  # dewi@nusantara-logistik.example
USER_GOLD = 900000000102  # evan@globex.example
USER_SILVER = 900000000103  # fitri@sinar-jaya.example
USER_PLAIN = 900000000104  # gina@smallshop.example
USER_FREEMAIL_CONTACT = 900000000105  # a Platinum contact writing from gmail.com
USER_FREEMAIL_UNKNOWN = 900000000106  # yahoo.co.id, no contact anywhere
USER_UNITED_OIL = 900000000107  # carol@uog.example (website says uos.example)
USER_TWIN = 900000000108  # joko@twin-holdings.example (two accounts share it)


def default_seed() -> dict[str, Any]:
    """A fresh copy of the default seed (callers may change it freely)."""
    return {
        "zendesk": {
            "account_id": ACCOUNT_ID,
            "api_user_id": API_USER_ID,
            "users": _zendesk_staff() + _zendesk_end_users(),
            "organizations": _zendesk_organizations(),
            "groups": _zendesk_groups(),
        },
        "salesforce": {
            "custom_fields": {"Account": ["Tier__c", "Contract_Value__c"]},
            "users": _salesforce_users(),
            "accounts": _salesforce_accounts(),
            "contacts": _salesforce_contacts(),
        },
    }


def _zendesk_staff() -> list[dict[str, Any]]:
    return [
        _user(API_USER_ID, "VIP Sidecar", "sidecar@example.com", "admin"),
        _user(900000000011, "Ayu Agent", "ayu.agent@example.com", "agent"),
        _user(900000000012, "Bram Agent", "bram.agent@example.com", "agent"),
        _user(900000000013, "Citra Lead", "citra.lead@example.com", "agent"),
    ]


def _zendesk_end_users() -> list[dict[str, Any]]:
    return [
        _user(
            USER_PLATINUM,
            "Dewi Example",
            "dewi@nusantara-logistik.example",
            org=ORG_NUSANTARA,
        ),
        _user(USER_GOLD, "Evan Example", "evan@globex.example", org=ORG_GLOBEX),
        _user(
            USER_SILVER, "Fitri Example", "fitri@sinar-jaya.example", org=ORG_SINAR_JAYA
        ),
        _user(USER_PLAIN, "Gina Example", "gina@smallshop.example", org=ORG_SMALL_SHOP),
        _user(USER_FREEMAIL_CONTACT, "Hadi Example", "hadi.example@gmail.com"),
        _user(USER_FREEMAIL_UNKNOWN, "Indah Example", "indah.example@yahoo.co.id"),
        _user(
            USER_UNITED_OIL, "Carol Example", "carol@uog.example", org=ORG_UNITED_OIL
        ),
        _user(USER_TWIN, "Joko Example", "joko@twin-holdings.example", org=ORG_TWIN),
    ]


def _zendesk_organizations() -> list[dict[str, Any]]:
    return [
        _org(
            ORG_NUSANTARA,
            "PT Nusantara Logistik Contoh",
            ["nusantara-logistik.example"],
            ["vip_platinum"],
            "SF-PLATINUM",
        ),
        _org(
            ORG_GLOBEX,
            "Globex Example Inc",
            ["globex.example"],
            ["enterprise"],
            "SF-GOLD",
        ),
        _org(ORG_SINAR_JAYA, "CV Sinar Jaya Contoh", ["sinar-jaya.example"], [], None),
        _org(ORG_SMALL_SHOP, "Small Shop Example", ["smallshop.example"], [], None),
        _org(ORG_UNITED_OIL, "United Oil Example", ["uog.example"], [], None),
        _org(ORG_TWIN, "Twin Holdings Example", ["twin-holdings.example"], [], None),
    ]


def _zendesk_groups() -> list[dict[str, Any]]:
    names = {
        GROUP_PLATINUM: "Platinum desk",
        GROUP_GOLD: "Gold desk",
        GROUP_SILVER: "Silver desk",
        GROUP_MANAGEMENT: "Management",
        GROUP_GENERAL: "General",
        GROUP_ESCALATIONS: "Escalations",
    }
    return [{"id": key, "name": name} for key, name in names.items()]


def _salesforce_users() -> list[dict[str, Any]]:
    return [
        {
            "Id": OWNER_RINA,
            "Name": "Rina Manager",
            "Email": "rina.manager@example.com",
            "Username": "rina.manager@example.com",
            "IsActive": True,
        },
        {
            "Id": OWNER_SAM,
            "Name": "Sam Manager",
            "Email": "sam.manager@example.com",
            "Username": "sam.manager@example.com",
            "IsActive": True,
        },
    ]


def _salesforce_accounts() -> list[dict[str, Any]]:
    return [
        _account(
            ACCOUNT_PLATINUM,
            "PT Nusantara Logistik Contoh",
            "www.nusantara-logistik.example",
            "Platinum",
            750000,
            OWNER_RINA,
        ),
        _account(
            ACCOUNT_GOLD,
            "Globex Example Inc",
            "http://www.globex.example",
            "Gold",
            250000,
            OWNER_SAM,
        ),
        _account(
            ACCOUNT_SILVER,
            "CV Sinar Jaya Contoh",
            "sinar-jaya.example",
            "Silver",
            60000,
            OWNER_RINA,
        ),
        _account(
            ACCOUNT_PLAIN,
            "Small Shop Example",
            "www.smallshop.example",
            None,
            1200,
            OWNER_SAM,
        ),
        _account(
            ACCOUNT_UNITED_OIL,
            "United Oil Example Corp.",
            "http://www.uos.example",
            "Gold",
            300000,
            OWNER_SAM,
        ),
        _account(
            ACCOUNT_TWIN_APAC,
            "Twin Holdings Example (APAC)",
            "www.twin-holdings.example",
            "Platinum",
            500000,
            OWNER_RINA,
        ),
        _account(
            ACCOUNT_TWIN_EMEA,
            "Twin Holdings Example (EMEA)",
            "www.twin-holdings.example",
            "Silver",
            40000,
            OWNER_SAM,
        ),
    ]


def _salesforce_contacts() -> list[dict[str, Any]]:
    return [
        _contact(
            "003xx000004VipPAAS",
            "Dewi Example",
            "dewi@nusantara-logistik.example",
            ACCOUNT_PLATINUM,
        ),
        _contact(
            "003xx000004VipHAAS",
            "Hadi Example",
            "hadi.example@gmail.com",
            ACCOUNT_PLATINUM,
        ),
        _contact(
            "003xx000004VipGAAS", "Evan Example", "evan@globex.example", ACCOUNT_GOLD
        ),
        _contact(
            "003xx000004VipSAAS",
            "Fitri Example",
            "fitri@sinar-jaya.example",
            ACCOUNT_SILVER,
        ),
        _contact(
            "003xx000004VipNAAS",
            "Gina Example",
            "gina@smallshop.example",
            ACCOUNT_PLAIN,
        ),
        _contact(
            "003xx000004VipCAAS",
            "Carol Example",
            "carol@uog.example",
            ACCOUNT_UNITED_OIL,
        ),
        _contact(
            "003xx000004VipDAAS", "Dan Example", "dan@uog.example", ACCOUNT_UNITED_OIL
        ),
        _contact("003xx000004VipOAAS", "Owen Example", "owen@nowhere.example", None),
    ]


def _user(
    user_id: int, name: str, email: str, role: str = "end-user", org: int | None = None
) -> dict[str, Any]:
    return {
        "id": user_id,
        "name": name,
        "email": email,
        "role": role,
        "organization_id": org,
    }


def _org(
    org_id: int,
    name: str,
    domains: list[str],
    tags: list[str],
    external_id: str | None,
) -> dict[str, Any]:
    return {
        "id": org_id,
        "name": name,
        "domain_names": domains,
        "tags": tags,
        "external_id": external_id,
        "organization_fields": {},
    }


def _account(
    account_id: str,
    name: str,
    website: str,
    tier: str | None,
    value: int,
    owner: str,
) -> dict[str, Any]:
    return {
        "Id": account_id,
        "Name": name,
        "Website": website,
        "Type": "Customer - Direct",
        "Tier__c": tier,
        "Contract_Value__c": value,
        "OwnerId": owner,
    }


def _contact(
    contact_id: str, name: str, email: str, account_id: str | None
) -> dict[str, Any]:
    first, last = name.split(" ", 1)
    return {
        "Id": contact_id,
        "Name": name,
        "FirstName": first,
        "LastName": last,
        "Email": email,
        "AccountId": account_id,
        "OwnerId": OWNER_RINA,
    }
