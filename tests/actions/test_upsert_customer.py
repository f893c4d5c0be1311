"""upsert-customer: Commerce's validation messages (the seed's error table) and find-or-create per website."""
from __future__ import annotations

import pytest

from customer_auth.store import open_store
from tests.conftest import SEED_CUSTOMER, settings


def run(actions, store_url, customer=None, exchange_input=None, store_code="", **overrides):
    params = {
        "input": {"customer": customer} if exchange_input is None else exchange_input,
        "store_code": store_code,
        "integration": {"id": 1, "name": "social-login"},
        **settings(store_url, **overrides),
    }
    return actions["upsert-customer"].main(params)


def messages(result) -> list[str]:
    return [e["message"] for e in result["error"]["body"]["errors"]]


def category(result) -> set[str]:
    return {e["extensions"]["category"] for e in result["error"]["body"]["errors"]}


# The seed's error table, row by row -------------------------------------------------------------
def test_invalid_email_format(actions, store_url):
    result = run(actions, store_url, {**SEED_CUSTOMER, "email": "plainaddress"})
    assert messages(result) == ['"Email" is not a valid email address.']
    assert category(result) == {"graphql-input"} and result["error"]["statusCode"] == 400


@pytest.mark.parametrize("field", ["email", "lastname", "firstname"])
def test_required_field_omitted(actions, store_url, field):
    customer = {k: v for k, v in SEED_CUSTOMER.items() if k != field}
    result = run(actions, store_url, customer)
    assert messages(result) == [f"Field CustomerCreateInput.{field} of required type String! was not provided"]
    assert category(result) == {"graphql-input"}


def test_undefined_field(actions, store_url):
    result = run(actions, store_url, {**SEED_CUSTOMER, "xyz": 1})
    assert messages(result) == ['Field "xyz" is not defined by type CustomerCreateInput.']


# Commerce's data rules ----------------------------------------------------------------------------
def test_empty_names_are_missing_parameters(actions, store_url):
    result = run(actions, store_url, {**SEED_CUSTOMER, "firstname": "  "})
    assert messages(result) == ["Required parameters are missing: First Name"]
    result = run(actions, store_url, {**SEED_CUSTOMER, "firstname": "", "lastname": ""})
    assert messages(result) == ["Required parameters are missing: First Name, Last Name"]


@pytest.mark.parametrize("email", ["new_customer@example.com", "jØrgenV2@somedomain.com", "a" * 64 + "@example.com"])
def test_emails_commerce_accepts(actions, store_url, email):
    assert run(actions, store_url, {**SEED_CUSTOMER, "email": email})["customer"]["email"] == email


@pytest.mark.parametrize("email", [
    "plainaddress", "#@%^%#$@#$@#.com", "@example.com", "Joe Smith <email@example.com>", "email.example.com",
    "email@example@example.com", "email@example.com (Joe Smith)", "email@example",
    "a" * 65 + "@example.com", "Ø" * 33 + "@example.com", "a\tb@example.com", "a\x00b@example.com",
])
def test_emails_commerce_rejects(actions, store_url, email):
    assert messages(run(actions, store_url, {**SEED_CUSTOMER, "email": email})) == [
        '"Email" is not a valid email address.']


def test_email_message_can_show_the_value(actions, store_url):
    result = run(actions, store_url, {**SEED_CUSTOMER, "email": "plainaddress"}, EMAIL_ERROR_SHOWS_VALUE="true")
    assert messages(result) == ['"plainaddress" is not a valid email address.']


def test_scalar_types(actions, store_url):
    result = run(actions, store_url, {**SEED_CUSTOMER, "firstname": 5, "gender": "x", "is_subscribed": "yes"})
    assert messages(result) == [
        "String cannot represent a non string value: 5",
        'Boolean cannot represent a non boolean value: "yes"',
        'Int cannot represent non-integer value: "x"',
    ]  # in the order the fields were sent


@pytest.mark.parametrize("fields, expected", [
    ({"custom_attributes": [{"value": "x"}]},
     ["Field AttributeValueInput.attribute_code of required type String! was not provided"]),
    ({"custom_attributes": [{"attribute_code": 5, "bogus": 1}]},
     ['Field "bogus" is not defined by type AttributeValueInput.', "String cannot represent a non string value: 5"]),
    ({"custom_attributes": ["gold"]}, ['Expected type "AttributeValueInput" to be an object.']),
    ({"custom_attributes": [{"attribute_code": "a", "value": {"x": 1}}]},
     ['String cannot represent a non string value: {"x": 1}']),
    ({"custom_attributes": [{"attribute_code": "a", "selected_options": [{"nope": 1}]}]},
     ['Field "nope" is not defined by type AttributeInputSelectedOption.',
      "Field AttributeInputSelectedOption.value of required type String! was not provided"]),
    ({"gender": 2**40}, ["Int cannot represent non 32-bit signed integer value: 1099511627776"]),
    ({"gender": -(2**31) - 1}, ["Int cannot represent non 32-bit signed integer value: -2147483649"]),
    ({"gender": 1.5}, ["Int cannot represent non-integer value: 1.5"]),
])
def test_nested_inputs_and_int_range_are_checked_as_graphql_checks_them(actions, store_url, store, fields, expected):
    """The web sequence takes the input as JSON: what `/graphql` refuses is refused here too, and not
    stored for every later read of the customer to fail on."""
    assert messages(run(actions, store_url, {**SEED_CUSTOMER, **fields})) == expected
    assert store.find_customer(1, SEED_CUSTOMER["email"]) is None


def test_input_is_coerced_as_graphql_coerces_a_variable(actions, store_url, store):
    """One attribute where a list belongs is a list of one; an integral float is an Int."""
    attribute = {"attribute_code": "loyalty", "selected_options": {"value": "gold"}}
    result = run(actions, store_url, {**SEED_CUSTOMER, "custom_attributes": attribute, "gender": 2.0},
                 CUSTOMER_CUSTOM_ATTRIBUTES="loyalty")
    stored = store.customer(result["customer"]["id"])
    assert stored.custom_attributes == [{"attribute_code": "loyalty", "selected_options": [{"value": "gold"}]}]
    assert stored.gender == 2 and isinstance(stored.gender, int)


def test_over_long_and_control_character_values(actions, store_url):
    result = run(actions, store_url, {**SEED_CUSTOMER, "firstname": "R" * 256, "lastname": "Co\x00st"})
    assert messages(result) == [
        '"First Name" length must be equal or less than 255 characters.', "Last Name is not valid!"]


# Commerce's name validator (Magento\Customer\Model\Validator\Name) -------------------------------
@pytest.mark.parametrize("name", ["<script>", "<img src=x onerror=alert(1)>", "<>", "Roni;", "Ro\nni", "Ro\u0085ni",
                                  "Ro\u2028ni", "a@b", "Robert\"); DROP TABLE"])
@pytest.mark.parametrize("field, message", [("firstname", "First Name is not valid!"),
                                            ("lastname", "Last Name is not valid!"),
                                            ("middlename", "Middle Name is not valid!")])
def test_names_commerce_refuses(actions, store_url, store, field, message, name):
    """Markup and other characters no name holds are refused, in Commerce's words, and not stored."""
    assert messages(run(actions, store_url, {**SEED_CUSTOMER, field: name})) == [message]
    assert store.find_customer(1, SEED_CUSTOMER["email"]) is None


@pytest.mark.parametrize("name", ["O’Brien", "O'Toole", "O`Toole", "Jean-Luc", "Zoë", "José María", "Nguyễn",
                                  "李小龍", "Ана-Мария", "अनुष्का", "Anne & Co.", "John Doe II", "Smith, Jr.",
                                  "mary_kate"])
def test_names_commerce_accepts(actions, store_url, name):
    customer = run(actions, store_url, {**SEED_CUSTOMER, "firstname": name, "lastname": name, "middlename": name})
    assert (customer["customer"]["firstname"], customer["customer"]["middlename"]) == (name, name)


# Custom attributes: only those CUSTOMER_CUSTOM_ATTRIBUTES lists, bounded ------------------------------
def unknown_attribute(code: str) -> str:
    return f'The attribute with a "{code}" attributeCode doesn\'t exist. Verify the attribute and try again.'


@pytest.mark.parametrize("listed", ["", "loyalty"])
def test_a_custom_attribute_commerce_does_not_have_is_refused(actions, any_store_url, listed):
    attributes = [{"attribute_code": "password", "value": "Pw-Hunter2-Secret"}, {"attribute_code": "nope"}]
    result = run(actions, any_store_url, {**SEED_CUSTOMER, "custom_attributes": attributes},
                 CUSTOMER_CUSTOM_ATTRIBUTES=listed)
    assert messages(result) == [unknown_attribute("password"), unknown_attribute("nope")]
    assert "Hunter2" not in repr(result)
    assert open_store(any_store_url).find_customer(1, SEED_CUSTOMER["email"]) is None


def test_custom_attributes_are_bounded(actions, any_store_url):
    listed = {"CUSTOMER_CUSTOM_ATTRIBUTES": "loyalty,sizes,note"}
    attributes = [{"attribute_code": "loyalty", "value": "gold"}] * 20_000 + [
        {"attribute_code": "note", "value": "n" * 256},
        {"attribute_code": "sizes", "selected_options": [{"value": "M" * 128}, {"value": "L" * 127}]},
        {"attribute_code": "x" * 10_000, "value": "v"}]
    result = run(actions, any_store_url, {**SEED_CUSTOMER, "custom_attributes": attributes}, **listed)
    assert messages(result) == [
        unknown_attribute("x" * 60 + "…"),
        'The "loyalty" attribute is given 20000 times: give each attribute once.',
        '"note" length must be equal or less than 255 characters.',
        '"sizes" length must be equal or less than 255 characters.',  # "M...M,L...L": 256 characters
    ]
    assert open_store(any_store_url).find_customer(1, SEED_CUSTOMER["email"]) is None
    fitting = [{"attribute_code": "note", "value": "n" * 255},
               {"attribute_code": "sizes", "selected_options": [{"value": "M"}, {"value": "L"}]}]
    created = run(actions, any_store_url, {**SEED_CUSTOMER, "custom_attributes": fitting}, **listed)
    assert open_store(any_store_url).customer(created["customer"]["id"]).custom_attributes == fitting


@pytest.mark.parametrize("listed, why", [
    ("loyalty,password", "'password' names a secret"),
    ("api_token", "'api_token' names a secret"),
    ("loyalty,email", "'email' is one of Commerce's own customer attributes"),
    ("is_subscribed", "'is_subscribed' is one of Commerce's own customer attributes"),
    ("loyalty tier", "'loyalty tier' is no attribute code"),
    ("1st", "'1st' is no attribute code"),
])
def test_a_custom_attribute_setting_that_cannot_work_names_itself(actions, store_url, capsys, listed, why):
    result = run(actions, store_url, SEED_CUSTOMER, CUSTOMER_CUSTOM_ATTRIBUTES=listed)
    assert messages(result) == ["Internal server error"] and result["error"]["statusCode"] == 500
    assert ("setting CUSTOMER_CUSTOM_ATTRIBUTES must be attribute codes a merchant added, comma-separated "
            f"({why}") in capsys.readouterr().out


def test_weak_password(actions, store_url):
    assert messages(run(actions, store_url, {**SEED_CUSTOMER, "password": "short"})) == [
        "The password needs at least 8 characters. Create a new password and try again."]
    assert "Minimum of different classes" in messages(run(actions, store_url, {**SEED_CUSTOMER, "password": "longbutlower"}))[0]


def test_a_password_of_another_type_is_refused_without_being_shown(actions, store_url):
    result = run(actions, store_url, {**SEED_CUSTOMER, "password": ["Pw-Hunter2-Secret"]})
    assert messages(result) == ["String cannot represent a non string value: [REDACTED]"]
    assert "Hunter2" not in repr(result)


def test_exchange_input_needs_customer(actions, store_url):
    result = run(actions, store_url, exchange_input={"other": 1})
    assert messages(result) == [
        'Field "other" is not defined by type ExchangeExternalCustomerTokenInput.',
        "Field ExchangeExternalCustomerTokenInput.customer of required type CustomerCreateInput! was not provided",
    ]


# Find or create -------------------------------------------------------------------------------------
def test_creates_then_finds_case_insensitively(actions, store_url, store):
    first = run(actions, store_url, SEED_CUSTOMER)
    assert first["created"] is True
    record = first["customer"]
    assert record["id"] == 1 and record["website_id"] == 1 and record["store_id"] == 1 and record["group_id"] == 1
    assert record["created_at"] and record["confirmation_status"] == "ACCOUNT_CONFIRMATION_NOT_REQUIRED"
    assert "password_hash" not in record
    again = run(actions, store_url, {**SEED_CUSTOMER, "email": "RONI_Cost@Example.com", "firstname": "Other"})
    assert again["created"] is False and again["customer"]["id"] == 1
    assert again["customer"]["firstname"] == "Roni"  # updating existing profiles is off by default
    assert store.customer_count() == 1


def test_optional_fields_and_password(actions, store_url, store):
    result = run(actions, store_url, {**SEED_CUSTOMER, "middlename": "Q", "prefix": "Dr", "gender": 2,
                                      "date_of_birth": "1990-02-03", "taxvat": "X1", "password": "S3cure-pass"})
    record = result["customer"]
    assert (record["middlename"], record["prefix"], record["gender"], record["dob"], record["taxvat"]) == (
        "Q", "Dr", 2, "1990-02-03", "X1")
    stored = store.customer(record["id"])
    assert stored.password_hash.startswith("pbkdf2_sha256$") and "S3cure-pass" not in stored.password_hash


def test_update_existing_when_enabled(actions, store_url):
    run(actions, store_url, SEED_CUSTOMER)
    result = run(actions, store_url, {**SEED_CUSTOMER, "firstname": "Ronald", "is_subscribed": True},
                 CUSTOMER_UPDATE_EXISTING="true")
    assert result["created"] is False
    assert (result["customer"]["firstname"], result["customer"]["is_subscribed"]) == ("Ronald", True)


def test_create_missing_can_be_turned_off(actions, store_url):
    result = run(actions, store_url, SEED_CUSTOMER, CUSTOMER_CREATE_MISSING="false")
    assert messages(result) == ["No such entity with email = roni_cost@example.com, websiteId = 1"]
    assert category(result) == {"graphql-no-such-entity"}


def test_newsletter_subscription(actions, store_url):
    assert run(actions, store_url, {**SEED_CUSTOMER, "is_subscribed": True})["customer"]["is_subscribed"] is True
    other = {**SEED_CUSTOMER, "email": "b@example.com", "is_subscribed": True}
    assert run(actions, store_url, other, NEWSLETTER_ENABLED="false")["customer"]["is_subscribed"] is False


def test_store_header_selects_the_website(actions, store_url):
    stores = {"STORES": "default:base,fr:base,us:us"}
    base = run(actions, store_url, SEED_CUSTOMER, **stores)["customer"]
    fr = run(actions, store_url, SEED_CUSTOMER, store_code="fr", **stores)
    us = run(actions, store_url, SEED_CUSTOMER, store_code="us", **stores)
    assert fr["created"] is False and fr["customer"]["id"] == base["id"]  # same website: same customer
    assert us["created"] is True and us["customer"]["website_id"] == 2 and us["customer"]["store_id"] == 3


def test_unknown_store(actions, store_url):
    result = run(actions, store_url, SEED_CUSTOMER, store_code="nowhere")
    assert messages(result) == ["Requested store is not found"]
    assert category(result) == {"graphql-no-such-entity"}


def test_bad_setting_is_an_internal_error(actions, store_url, capsys):
    result = run(actions, store_url, SEED_CUSTOMER, CUSTOMER_CREATE_MISSING="maybe")
    assert messages(result) == ["Internal server error"] and result["error"]["statusCode"] == 500
    assert "CUSTOMER_CREATE_MISSING must be true or false" in capsys.readouterr().out
