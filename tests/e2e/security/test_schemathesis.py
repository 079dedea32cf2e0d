"""schemathesis over every service's OpenAPI document, as the gateway publishes it (`/docs/openapi/<name>.json`),
sent through the gateway to the real services.

schemathesis (the maintained property-based API fuzzer) runs its phases on every public operation of user-,
product- and order-service: the schema's examples, the coverage phase (boundaries and every kind of invalid
value), generated requests valid and invalid, and stateful sequences (what one answer returns, the next
request uses). Admin operations carry the administrator's token, the others a member's (guest routes
personalise with it; `ignored_auth` sends them without or with a bad token too). A fifth of the strings are
taken from a list of attacks (SQL injection, markup, path traversal, format strings), and half of the ids
from things that exist, so requests get past "not found" into the code that does the work.

Checks: no 5xx (`not_a_server_error`), a documented status code, content type, headers and body schema
(`status_code_conformance`, `content_type_conformance`, `response_headers_conformance`,
`response_schema_conformance`), authentication not ignored (`ignored_auth`), and for the stateful
sequences that a deleted thing is gone and a created one is there (`use_after_free`,
`ensure_resource_availability`). Reproducible: Hypothesis derandomized (the same requests for the same
schema), `MAX_EXAMPLES` per operation. Run from the CLI (`python -m schemathesis.cli run`) in a child
process: its pytest plugin does not run on this pytest (9.2); the report is read back from its JUnit file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

MAX_EXAMPLES = 25
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance", "ignored_auth", "use_after_free",
          "ensure_resource_availability"]
ATTACKS = [
    "' OR '1'='1", "' OR 1=1 --", "1; DROP TABLE product; --", "\" OR \"\"=\"", "%' OR '%'='",
    "' UNION SELECT password_hash, login_id FROM member --", "1' AND SLEEP(3) --", "'; SELECT pg_sleep(3); --",
    "\\", "'", "%", "_", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"><svg onload=alert(1)>",
    "javascript:alert(1)", "../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "%s%s%s%n", "{0.__class__}",
    "${jndi:ldap://127.0.0.1/x}", "울 니트", "𝕏" * 40,
]
# the address the fuzzer's requests come from, as the gateway tells the services (a documentation range):
# its login failures are counted apart from the other tests' logins
FUZZER_ADDRESS = "198.51.100.77"


def toml_value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string, list or number is a TOML one too


def config_file(path: Path, service: str, document: dict[str, Any], actors: Any) -> Path:
    """The schemathesis configuration of one service's run."""
    gateway = actors.attack.cluster.gateway
    admin_operations = [f"{method.upper()} {template}" for template, item in document["paths"].items()
                        for method, operation in item.items()
                        if isinstance(operation, dict) and operation.get("x-access") == "admin"]
    existing = {
        "products": [actors.product_id], "images": [actors.image_id], "types": [actors.type_id],
        "banners": [actors.banner_id], "coupons": [actors.coupon_id], "inquiries": [actors.inquiry_id],
        "cartItems": [actors.cart_item_id], "orders": [actors.order_id],
    }
    bindings = {"path.product_id": "products", "body.productId": "products", "path.image_id": "images",
                "path.product_type_id": "types", "body.productTypeId": "types", "path.banner_id": "banners",
                "path.coupon_id": "coupons", "path.inquiry_id": "inquiries", "path.cart_item_id": "cartItems",
                "path.order_id": "orders"}
    lines = [
        f"base-url = {toml_value(f'{gateway}/api/{service}-service')}",
        "request-timeout = 30",
        f"headers = {{ Authorization = {toml_value('Bearer ' + actors.owner.token)}, "
        f"X-Forwarded-For = {toml_value(FUZZER_ADDRESS)} }}",
        "",
        "[generation]",
        f"max-examples = {MAX_EXAMPLES}",
        "deterministic = true",
        'database = "none"',
        "",
        "[generation.dictionaries.string]",
        'dictionary = "attacks"',
        "probability = 0.2",
        "",
        "[dictionaries.attacks]",
        f"values = {toml_value(ATTACKS)}",
    ]
    for name, values in existing.items():
        lines += ["", f"[dictionaries.{name}]", f"values = {toml_value(values)}"]
    lines += ["", "[parameters]"]
    lines += [f"{toml_value(key)} = {{ dictionary = {toml_value(name)}, probability = 0.5 }}"
              for key, name in bindings.items()]
    if admin_operations:
        lines += ["", "[[operations]]", f"include-name = {toml_value(admin_operations)}",
                  f"headers = {{ Authorization = {toml_value('Bearer ' + actors.admin)}, "
                  f"X-Forwarded-For = {toml_value(FUZZER_ADDRESS)} }}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def failures(junit: Path) -> tuple[int, list[str]]:
    """The number of operations in the JUnit report, and one line per failure in it."""
    root = ET.parse(junit).getroot()
    cases = root.iter("testcase")
    found, count = [], 0
    for case in cases:
        count += 1
        for problem in [*case.iter("failure"), *case.iter("error")]:
            text = (problem.get("message") or "") + "\n" + (problem.text or "")
            found.append(f"{case.get('name')}: {text.strip()[:1500]}")
    return count, found


@pytest.mark.parametrize("service", ["user", "product", "order"])
def test_every_public_operation_answers_as_documented(service: str, actors: Any, tmp_path: Path,
                                                      record_property: Any) -> None:
    gateway = actors.attack.cluster.gateway
    document_url = f"{gateway}/docs/openapi/{service}.json"
    document = httpx.get(document_url, timeout=10).json()
    operations = sum(1 for item in document["paths"].values() for op in item.values() if isinstance(op, dict))
    junit = tmp_path / "junit.xml"
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file",
         str(config_file(tmp_path / "schemathesis.toml", service, document, actors)),
         "run", document_url, "--checks", ",".join(CHECKS), "--workers", "1", "--report", "junit",
         "--report-junit-path", str(junit)],
        capture_output=True, text=True, timeout=280, cwd=tmp_path)
    seconds = time.monotonic() - started
    output = run.stdout + run.stderr
    summary = [line.strip() for line in output.splitlines() if "generated" in line and "passed" in line]
    figures = f"{service}: {operations} operations, {' '.join(summary)}, {seconds:.0f} s"
    record_property("schemathesis", figures)
    print(figures)
    assert junit.exists(), output[-4000:]
    tested, found = failures(junit)
    assert tested >= operations, f"schemathesis tested {tested} of {operations} operations\n{output[-4000:]}"
    assert not found, "\n\n".join(found)
    assert run.returncode == 0, output[-4000:]
