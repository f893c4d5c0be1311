"""issue-token: mints the Commerce customer token and shapes the web sequence's answer.

The result is the web answer: the customer in the GraphQL `Customer` shape and its token. The answer
is made first, then the exchange is written to the audit trail: a token whose entry cannot be written
is not issued, and an entry says "issued" only of an answer that holds a token.
"""
import time

from customer_auth import audit, settings, tokens
from customer_auth.customers import graphql_customer
from customer_auth.store import open_store
from customer_auth.web import log, web_action


@web_action
def main(params: dict) -> dict:
    customer = params["customer"]
    answer = {"customer": graphql_customer(customer),
              "token": tokens.issue(customer["id"], settings.token_policy(params), now=int(time.time()))}
    audit.record(open_store(settings.STORE_URL.read(params)), audit.ISSUED, integration=params.get("integration"),
                 store_code=params.get("store_code"), customer_id=customer["id"], created=params.get("created"),
                 required=True)
    log.info("customer token issued for customer %s", customer["id"])
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": answer,
    }
