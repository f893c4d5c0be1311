"""Every setting of the actions, each defined once: its name, default, check and one-line doc.

Settings reach an action as parameters: the manifest's inputs, whose `$VAR`s come from the environment
and `.env`. A missing `$VAR` reaches the action as '', which means "use the default". An action reads
a setting through its entry (`JWT_ALG.read(params)`) and hands the library plain policies built here
(`token_policy(params)`), so no lower layer reads settings. The emulator and scripts/deploy run
`check` over the inputs each action will receive, so a setting that cannot work stops them at start,
named, with what it accepts, instead of failing every request.

To add a setting: `NAME = define("NAME", default, parser, "what it does")`, with a parser from
`customer_auth.values` (or any callable that raises ValueError saying what it accepts), and document
it in .env.example (tests/library/test_settings.py keeps the two in step).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import custom_attributes, values
from .customers import AccountPolicy
from .errors import ConfigurationError, NoSuchEntityError
from .integrations import EXCHANGE_RESOURCE
from .store import check_url
from .store.base import RateLimit
from .stores import DEFAULT_STORES, StoreView, parse_stores, resolve
from .tokens import ALGORITHMS, DEFAULT_LIFETIME_MINUTES, TokenPolicy, signing_key

if TYPE_CHECKING:
    from .oauth1 import OAuthPolicy

T = TypeVar("T")


@dataclass(frozen=True)
class Setting(Generic[T]):
    name: str
    default: str  # as .env would say it ('': none), read with `parse` like any value
    parse: Callable[[Any], T]  # the parameter's value -> the setting's; ValueError says what is accepted
    doc: str
    required: bool = False  # no default: an action that gets it empty cannot run
    secret: bool = False  # its value is never repeated in an error

    def read(self, params: Mapping[str, Any]) -> T:
        """The setting's value in `params`, its default when absent or ''; ConfigurationError naming
        the setting and what it accepts when the value cannot work."""
        value = params.get(self.name)
        if value is None or value == "":
            if self.required:
                raise ConfigurationError(f"setting {self.name} is not set")
            value = self.default
        try:
            return self.parse(value)
        except ValueError as accepted:
            got = "" if self.secret else f", got {value!r}"
            raise ConfigurationError(f"setting {self.name} must be {accepted}{got}") from None


SETTINGS: dict[str, Setting[Any]] = {}
# Checks of settings that must agree with each other: each returns why they cannot work together, or None.
RELATIONS: list[Callable[[Mapping[str, Any]], str | None]] = []


def define(name: str, default: str, parse: Callable[[Any], T], doc: str, *, required: bool = False,
           secret: bool = False) -> Setting[T]:
    """Register a setting; its default must pass its own check."""
    if name in SETTINGS:
        raise ValueError(f"setting {name} is defined twice")
    setting = Setting(name, default, parse, doc, required, secret)
    if not required:
        setting.read({})
    SETTINGS[name] = setting
    return setting


def relation(check: Callable[[Mapping[str, Any]], str | None]) -> Callable[[Mapping[str, Any]], str | None]:
    """Register a check of settings that must agree with each other (run once each of them reads)."""
    RELATIONS.append(check)
    return check


def _crypt_key(value: Any) -> str:
    keys = values.text(value)
    if not keys:
        raise ValueError("one or more keys separated by whitespace (the last one signs)")
    return keys


def _custom_attribute_codes(value: Any) -> frozenset[str]:
    """Comma-separated attribute codes (custom_attributes.py says which cannot be listed)."""
    codes = frozenset(code.strip() for code in str(value).split(",") if code.strip())
    for code in sorted(codes):
        why = custom_attributes.refusal(code)
        if why:
            raise ValueError(f"attribute codes a merchant added, comma-separated ({code!r} {why})")
    return codes


# ------------------------------------------------------------------------------------ storage
STORE_URL = define("STORE_URL", "", check_url, "tinydb:///path/store.json or postgresql://user:password@host/db",
                   required=True, secret=True)

# ------------------------------------------------------------------------------------ customer tokens
CRYPT_KEY = define("CRYPT_KEY", "", _crypt_key, "the Commerce install's crypt key, which signs customer tokens",
                   required=True, secret=True)
JWT_ALG = define("JWT_ALG", "HS256", values.one_of(*ALGORITHMS), "the customer tokens' signing algorithm")
CUSTOMER_TOKEN_LIFETIME = define("CUSTOMER_TOKEN_LIFETIME", str(DEFAULT_LIFETIME_MINUTES), values.whole_number(),
                                 "minutes a customer token lives (0 or less: 30)")

# ------------------------------------------------------------------------------------ OAuth 1.0a (verify-oauth)
OAUTH_TIMESTAMP_WINDOW = define("OAUTH_TIMESTAMP_WINDOW", "600", values.whole_number(1),
                                "seconds a request's oauth_timestamp may differ from now, both ways")
OAUTH_ALLOW_HMAC_SHA1 = define("OAUTH_ALLOW_HMAC_SHA1", "false", values.flag, "accept HMAC-SHA1 signatures too")
OAUTH_BEARER_ENABLED = define("OAUTH_BEARER_ENABLED", "false", values.flag,
                              "accept an integration's access token as Authorization: Bearer")
OAUTH_REQUIRED_RESOURCE = define("OAUTH_REQUIRED_RESOURCE", EXCHANGE_RESOURCE, values.text,
                                 "the ACL resource an integration needs to exchange")
PUBLIC_BASE_URL = define("PUBLIC_BASE_URL", "", values.base_url,
                         "the scheme://host[/prefix] clients call (signatures cover the URL)")
RATE_LIMIT_PER_MINUTE = define("RATE_LIMIT_PER_MINUTE", "600", values.whole_number(0),
                               "requests a minute per integration, on average (0: no limit)")
RATE_LIMIT_BURST = define("RATE_LIMIT_BURST", "100", values.whole_number(1), "requests per integration at once")
WEB_SEQUENCE_PATH = define("WEB_SEQUENCE_PATH", "customer-auth/exchange-external-customer-token", values.text,
                           "the web sequence's package/name, for a signed URL without x-forwarded-uri")

# ------------------------------------------------------------------------------------ customers (upsert-customer)
STORES = define("STORES", DEFAULT_STORES, parse_stores,
                "store_code:website_code pairs; the Store header picks one")
DEFAULT_STORE = define("DEFAULT_STORE", "default", values.text, "the store code used without a Store header")
CUSTOMER_CREATE_MISSING = define("CUSTOMER_CREATE_MISSING", "true", values.flag,
                                 "create a customer when none has the email")
CUSTOMER_UPDATE_EXISTING = define("CUSTOMER_UPDATE_EXISTING", "false", values.flag,
                                  "update an existing customer's names and subscription from the input")
NEWSLETTER_ENABLED = define("NEWSLETTER_ENABLED", "true", values.flag, "newsletter subscriptions")
EMAIL_ERROR_SHOWS_VALUE = define("EMAIL_ERROR_SHOWS_VALUE", "false", values.flag,
                                 "word an invalid email error with the value instead of \"Email\"")
CUSTOMER_CUSTOM_ATTRIBUTES = define("CUSTOMER_CUSTOM_ATTRIBUTES", "", _custom_attribute_codes,
                                    "the customer attributes the merchant added: the only custom attributes kept")

# ------------------------------------------------------------------------------------ GraphQL endpoint
GRAPHQL_MAX_DEPTH = define("GRAPHQL_MAX_DEPTH", "20", values.whole_number(1), "a document's depth, at most (Commerce's default)")
GRAPHQL_MAX_LENGTH = define("GRAPHQL_MAX_LENGTH", "10000", values.whole_number(1), "a document's characters, at most")
GRAPHQL_MAX_TOKENS = define("GRAPHQL_MAX_TOKENS", "1000", values.whole_number(1), "a document's tokens, at most")
GUEST_CHECKOUT_LOGIN = define("GUEST_CHECKOUT_LOGIN", "false", values.flag,
                              "isEmailAvailable tells whether an account has the email")

# ------------------------------------------------------------------------------------ logging
LOG_LEVEL = define("LOG_LEVEL", "info", values.one_of("debug", "info", "warning", "error"),
                   "the actions' log level")


def check(params: Mapping[str, Any]) -> list[str]:
    """Why each setting in `params` (an action's inputs) cannot work, one line each; empty when all can.
    Only the settings `params` holds are checked: each action gets the ones it reads. The settings of
    every package whose settings module is imported are known (emulator.bundle imports them all)."""
    problems = []
    for name in params:
        setting = SETTINGS.get(name)
        if setting is not None:
            try:
                setting.read(params)
            except ConfigurationError as error:
                problems.append(error.reason)
    if not problems:
        problems = [problem for problem in (related(params) for related in RELATIONS) if problem]
    return problems


@relation
def _default_store_is_one_of_stores(params: Mapping[str, Any]) -> str | None:
    if DEFAULT_STORE.name not in params:
        return None
    try:
        store_view(params, None)
    except NoSuchEntityError:  # what every request without a Store header would meet
        return (f"setting DEFAULT_STORE must be one of the store codes of STORES "
                f"({', '.join(STORES.read(params))}), got {DEFAULT_STORE.read(params)!r}")
    return None


# ------------------------------------------------------------------------------------ policies


def store_view(params: Mapping[str, Any], code: str | None) -> StoreView:
    """The store view a `Store` code names among STORES, or DEFAULT_STORE's when none is given."""
    return resolve(STORES.read(params), code, DEFAULT_STORE.read(params))


def oauth_policy(params: Mapping[str, Any]) -> OAuthPolicy:
    # Imported here: the OAuth module (and authlib's URL helpers) is verify-oauth's alone (the others start faster).
    from .oauth1 import HMAC_SHA1, HMAC_SHA256, OAuthPolicy

    methods = {HMAC_SHA256, HMAC_SHA1} if OAUTH_ALLOW_HMAC_SHA1.read(params) else {HMAC_SHA256}
    return OAuthPolicy(
        signature_methods=frozenset(methods),
        timestamp_window=OAUTH_TIMESTAMP_WINDOW.read(params),
        bearer_enabled=OAUTH_BEARER_ENABLED.read(params),
        required_resource=OAUTH_REQUIRED_RESOURCE.read(params),
        rate_limit=rate_limit(params),
    )


def rate_limit(params: Mapping[str, Any]) -> RateLimit | None:
    """Per integration, in the spirit of OpenWhisk's 600 invocations a minute; 0 turns it off."""
    per_minute = RATE_LIMIT_PER_MINUTE.read(params)
    return RateLimit(per_minute, RATE_LIMIT_BURST.read(params)) if per_minute else None


def account_policy(params: Mapping[str, Any]) -> AccountPolicy:
    return AccountPolicy(
        create_missing=CUSTOMER_CREATE_MISSING.read(params),
        update_existing=CUSTOMER_UPDATE_EXISTING.read(params),
        newsletter_enabled=NEWSLETTER_ENABLED.read(params),
    )


def token_policy(params: Mapping[str, Any]) -> TokenPolicy:
    return TokenPolicy(
        key=signing_key(CRYPT_KEY.read(params)),
        algorithm=JWT_ALG.read(params),
        lifetime_minutes=CUSTOMER_TOKEN_LIFETIME.read(params),
    )
