"""Schema fuzzing: Schemathesis runs every check against the real server's /openapi.json.

A real `creator-enrich serve` process (plus `creator-enrich worker` on Redis) on its own
database, an account and API key made with the CLI, and real batches in each state the id
routes care about (finished, paused, one to delete) with a valid signed link. Schemathesis then
generates valid and invalid requests for every operation (examples, coverage, fuzzing and
stateful phases) and checks every answer: no 5xx, only documented status codes, content types
and headers, bodies that match their schemas, invalid input refused, valid input accepted,
authentication not ignored, deleted resources gone, and the Allow header of 405 answers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.processes import Server, cli, server_env, wait_for_batch

ST = [str(Path(sys.executable).with_name("st"))]
# Per operation and phase: about a minute on SQLite, a little more on PostgreSQL. A longer hunt:
# CREATOR_ENRICH_FUZZ_EXAMPLES=500 CREATOR_ENRICH_FUZZ_SEED=1 .venv/bin/pytest -rP tests/...
MAX_EXAMPLES = int(os.environ.get("CREATOR_ENRICH_FUZZ_EXAMPLES", "30"))
SEED = int(os.environ.get("CREATOR_ENRICH_FUZZ_SEED", "20261129"))


class Fixture:
    def __init__(
        self,
        server: Server,
        key: str,
        peer_key: str,
        batches: dict[str, str],
        link: dict[str, str],
        values: dict[str, list[str]],
    ):
        self.server = server
        self.key = key
        self.peer_key = peer_key
        self.batches = batches
        self.link = link
        self.values = values


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    env = server_env(tmp_path_factory.mktemp("fuzz"), "fuzz", redis_db=7)
    cli(env, "db", "upgrade")
    cli(env, "data", "generate", "--creators", "300", "--seed", "5")
    # 0.05 credits pay for one raw hit (0.03): the first batch pauses, then credits arrive.
    cli(env, "accounts", "create", "fuzz", "--credits", "0.05")
    key = cli(env, "keys", "create", "fuzz").stdout.strip()
    # Another account: whatever the first one reads, Schemathesis tries to read with its key.
    cli(env, "accounts", "create", "peer", "--credits", "1000")
    peer_key = cli(env, "keys", "create", "peer").stdout.strip()
    handles = cli(env, "data", "sample", "--platform", "instagram", "--count", "10").stdout
    emails = cli(env, "data", "sample", "--emails", "--count", "10").stdout
    csv = tmp_path_factory.mktemp("csv") / "handles.csv"
    csv.write_text("handle\n" + handles + "nobody_here_1\n")

    server = Server(env)
    server.start()
    try:
        paused = str(server.submit(key, csv, "instagram")["batch_id"])
        wait_for_batch(
            server.url, key, paused, lambda s: s["status"] == "paused_insufficient_credits"
        )
        cli(env, "credits", "grant", "fuzz", "100000")
        finished = str(server.submit(key, csv, "instagram")["batch_id"])
        doomed = str(server.submit(key, csv, "instagram")["batch_id"])
        for batch_id in (finished, doomed):
            wait_for_batch(server.url, key, batch_id, lambda s: s["status"] == "finished")
        link = httpx.get(
            f"{server.url}/public/v1/enrichment/batch/{finished}/download/",
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        query = {k: v[0] for k, v in parse_qs(urlsplit(link["download_url"]).query).items()}
        yield Fixture(
            server,
            key,
            peer_key,
            {"paused": paused, "finished": finished, "doomed": doomed},
            {"expires": query["expires"], "signature": query["signature"]},
            {
                "handles": handles.split(),
                "emails": emails.split(),
                "csv": [csv.read_text(), "email\n" + emails],
            },
        )
    finally:
        server.stop()


def _identities(fixture: Fixture) -> dict[str, Any]:
    """A Web Fuzzing Commons auth document: the two accounts' keys as Bearer headers."""
    return {
        "auth": [
            {"name": name, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {key}"}]}
            for name, key in (("owner", fixture.key), ("peer", fixture.peer_key))
        ]
    }


def _config(fixture: Fixture, auth: Path) -> str:
    """schemathesis.toml: real ids, handles, emails and files half of the time (the rest is
    generated), so that successful answers are checked as well as refusals."""
    batch = fixture.batches
    q = json.dumps  # TOML basic strings and arrays of them are JSON for these values
    accepted = q(["2xx", "3xx", "400", "401", "403", "404", "409", "429"])
    return f"""
# Requests go as `owner`; every object it reads is also requested as `peer`, which must not get it
# (the object_level_authorization check).
[auth.wfc]
path = {q(str(auth))}
user = "owner"
peers = ["owner", "peer"]

[dictionaries.finished]
values = [{q(batch["finished"])}]
[dictionaries.paused]
values = [{q(batch["paused"])}]
[dictionaries.doomed]
values = [{q(batch["doomed"])}]
[dictionaries.expires]
values = [{q(fixture.link["expires"])}]
[dictionaries.signature]
values = [{q(fixture.link["signature"])}]

[dictionaries.handles]
values = {q(fixture.values["handles"])}
[dictionaries.instagram]
values = ["instagram"]
[dictionaries.emails]
values = {q(fixture.values["emails"])}
[dictionaries.csv]
values = {q(fixture.values["csv"])}

# Known creators and real CSVs often enough that successful answers are checked too.
[parameters]
"path.batch_id" = {{ dictionary = "finished", probability = 0.5 }}
"body.handle" = {{ dictionary = "handles", probability = 0.5 }}
"body.platform" = {{ dictionary = "instagram", probability = 0.7 }}
"body.email" = {{ dictionary = "emails", probability = 0.5 }}
"body.file" = {{ dictionary = "csv", probability = 0.5 }}

# Positive data acceptance: a request that fits the schema must not be refused (400). These
# operations take values whose validity no JSON Schema states: a handle's syntax depends on
# `platform` and may be a profile URL; an email must be a dot-atom address with a local part of
# at most 64 characters (a pattern for that needs a lookahead, which generators cannot use);
# an uploaded CSV is read row by row. The server refuses such a value with a 400 that names the
# field (tests/test_modes.py::test_single_bad_input_is_400_naming_the_field,
# tests/test_batch_api.py::test_bad_input_is_a_400_naming_the_field_and_stores_nothing), so 400
# is an accepted answer to schema-valid data here, and only here. Lengths and enums are stated
# exactly in the schema and stay checked.
[[operations]]
include-path-regex = "^/public/v1/creators/enrich/"
checks.positive_data_acceptance.expected-statuses = {accepted}

# Creating a batch also answers 422 when the request's Idempotency-Key was used before with
# another request (as the IETF Idempotency-Key draft says; documented on the route and tested by
# tests/test_idempotency.py::test_the_same_key_with_another_request_is_422): the fuzzer sends
# the same short generated keys with different files.
[[operations]]
include-path = "/public/v1/enrichment/batch/"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = {q([*json.loads(accepted), "422"])}

# The results of a batch still queued or processing answer 400, as the reference API's do (the
# answer depends on the batch's state, not on the request; it is documented on these routes and
# tested by tests/test_batch_api.py::test_results_before_finish_are_refused). Batches created
# during the run are fetched at once by the stateful phase, while they are still processing.
[[operations]]
include-path = [
    "/public/v1/enrichment/batch/{{batch_id}}/",
    "/public/v1/enrichment/batch/{{batch_id}}/download/",
]
include-method = "GET"
checks.positive_data_acceptance.expected-statuses = {accepted}

[[operations]]
include-path = "/public/v1/enrichment/batch/{{batch_id}}/resume/"
parameters = {{ "path.batch_id" = {{ dictionary = "paused", probability = 0.5 }} }}

[[operations]]
include-path = "/public/v1/enrichment/batch/{{batch_id}}/"
include-method = "DELETE"
parameters = {{ "path.batch_id" = {{ dictionary = "doomed", probability = 0.5 }} }}

[[operations]]
include-path = "/public/v1/enrichment/batch/{{batch_id}}/file/"
checks.positive_data_acceptance.expected-statuses = {accepted}
parameters = {{ "query.expires" = {{ dictionary = "expires", probability = 0.8 }}, \
"query.signature" = {{ dictionary = "signature", probability = 0.8 }} }}
"""


def test_schemathesis_finds_nothing(fuzzed: Fixture, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    auth = tmp_path / "identities.json"
    auth.write_text(json.dumps(_identities(fuzzed)))
    config.write_text(_config(fuzzed, auth))
    command = [
        *ST,
        "--config-file",
        str(config),
        "run",
        f"{fuzzed.server.url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--no-color",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False
    )
    output = result.stdout + result.stderr
    print(output)  # the run's summary, shown with -rP (and on failure)
    assert result.returncode == 0, output
    # Every operation of the document was tried, and the stateful phase ran.
    paths = httpx.get(f"{fuzzed.server.url}/openapi.json").json()["paths"]
    operations = sum(len(methods) for methods in paths.values())
    assert re.search(rf"Tested:\s+{operations}\b", output), output
    assert "Stateful" in output and "API Links:" in output, output
