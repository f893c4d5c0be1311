"""exchange-customer-token: decides which Commerce account the verified identity opens, then calls
Commerce's `exchangeExternalCustomerToken` over HTTP, signed with the integration's OAuth 1.0a
credentials, and shapes the web sequence's answer: the customer, its token and the account link.
"""
from customer_auth import settings as store_settings
from customer_auth.store import open_store
from social_login import account_links, settings
from social_login.identity import Identity
from social_login.refusals import sign_in_step


@sign_in_step
def main(params: dict) -> dict:
    signed_in = account_links.sign_in(
        open_store(store_settings.STORE_URL.read(params)),
        Identity.from_dict(params["identity"]),
        params.get("customer") or {},
        params.get("store_code") or "",
        settings.commerce(params),
        link_existing=settings.link_existing_accounts(params),
    )
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": signed_in.answer()}
