"""upsert-customer: finds the customer by email in the store's website, or creates it.

Validates the exchange input with Commerce's rules and messages, then find-or-create, atomically:
concurrent exchanges for one new email make one customer.
"""
from customer_auth import customer_input, customers, settings
from customer_auth.records import now_iso
from customer_auth.store import open_store
from customer_auth.web import log, web_action


@web_action
def main(params: dict) -> dict:
    view = settings.store_view(params, params.get("store_code"))
    data = customer_input.validate(
        customer_input.customer_of(params.get("input")),
        email_error_shows_value=settings.EMAIL_ERROR_SHOWS_VALUE.read(params),
        password_seal=params.get("password_seal"),
        attribute_codes=settings.CUSTOMER_CUSTOM_ATTRIBUTES.read(params),
    )
    customer, created = customers.find_or_create(
        open_store(settings.STORE_URL.read(params)),
        data,
        view,
        settings.account_policy(params),
        now=now_iso(),
    )
    log.info("customer %s %s in website %s", customer.id, "created" if created else "found", view.website_code)
    return {
        "customer": customer.public_record(),
        "created": created,
        "store_code": view.code,
        "integration": params.get("integration"),
    }
