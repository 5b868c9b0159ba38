"""usage-fake driven by a client no one here wrote: the official Python SDK
(PureCloudPlatformClientV2 269.0.0) with `configuration.host` at the fake.

Run by .ci/run as `python3 tests/python/official_sdk.py URL`; exits non-zero on the first
disagreement. Every loop is bounded.
"""

import datetime
import json
import sys
import time
import urllib.parse

import PureCloudPlatformClientV2 as pc
from PureCloudPlatformClientV2.rest import ApiException

CLIENT_ID = "5e1f0c2a-8d7b-4c3e-9a6f-2b1d0e9c8a7f"  # the org's own reporting client (usage_fake::OWN_CLIENT)
CLIENT_SECRET = "fake-oauth-client-secret"
KNOWN_CLIENT = "1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d"
SERIES = 40


def wait(fetch, done, what):
    for _ in range(50):
        answer = fetch()
        if done(answer.query_status):
            return answer
        time.sleep(0.02)
    raise SystemExit(f"{what}: still not done after 50 polls")


def main(url):
    pc.configuration.host = url
    api = pc.api_client.ApiClient()
    api.get_client_credentials_token(CLIENT_ID, CLIENT_SECRET)
    usage = pc.UsageApi(api)

    query = pc.ApiUsageOrganizationQuery()
    query.interval = "2026-10-01/2026-11-01"
    query.group_by = ["OAuthClientId", "TemplateUri"]
    submitted = usage.post_usage_query(query)
    result = wait(
        lambda: usage.get_usage_query_execution_id_results(submitted.execution_id),
        lambda s: s in ("Complete", "Failed"),
        "organization query",
    )
    assert result.query_status == "Complete", result.query_status
    assert result.results, "no rows"
    assert all(r.client_id and r.template_uri for r in result.results)

    job_query = pc.OrganizationPublicApiUsageQueryRequest()
    today = datetime.date.today()
    job_query.interval = f"{today - datetime.timedelta(days=31)}/{today - datetime.timedelta(days=1)}"
    # One row per series of the fake's org (.ci/run starts it with --rows 40).
    job_query.group_by = ["OauthClientId", "UserId", "TemplateUri"]
    job = usage.post_usage_aggregates_query_jobs(job_query)
    page = wait(
        lambda: usage.get_usage_aggregates_query_job(job.id, page_size=10),
        lambda s: s in ("Succeeded", "Failed", "Cancelled"),
        "aggregates job",
    )
    assert page.query_status == "Succeeded", page.query_status
    rows = len(page.entities)
    for _ in range(1000):
        if not page.next_uri:
            break
        after = page.next_uri.split("after=")[1]
        page = usage.get_usage_aggregates_query_job(job.id, page_size=10, after=after)
        rows += len(page.entities)
    assert page.next_uri is None, "paging did not end"
    assert rows == SERIES, rows

    search = pc.ApiUsageSimpleSearch()
    search.interval = "2026-10-01/2026-10-08"
    search.metrics = ["ClientName", "Status429"]
    searched = usage.post_usage_simplesearch(search)
    found = wait(
        lambda: usage.get_usage_simplesearch_execution_id_results(searched.execution_id),
        lambda s: s in ("Complete", "Failed"),
        "simple search",
    )
    assert found.query_status == "Complete", found.query_status
    assert found.results and all(r.client_name and r.status429 is not None for r in found.results)

    summary = usage.get_oauth_client_usage_summary(KNOWN_CLIENT, days="3")
    wait(
        lambda: usage.get_oauth_client_usage_query_result(summary.execution_id, KNOWN_CLIENT),
        lambda s: s in ("Complete", "Failed"),
        "summary",
    )

    # The client these credentials log in as is one of the org's: its own usage answers.
    own = usage.get_oauth_client_usage_summary(CLIENT_ID, days="3")
    own_done = wait(
        lambda: usage.get_oauth_client_usage_query_result(own.execution_id, CLIENT_ID),
        lambda s: s in ("Complete", "Failed"),
        "own client's summary",
    )
    assert own_done.query_status == "Complete", own_done.query_status
    assert own_done.results, "the own client has traffic"
    assert all(r.template_uri.startswith("api/v2/usage/") for r in own_done.results), own_done

    try:
        usage.get_oauth_client_usage_summary("no-such-client")
        raise SystemExit("an unknown client was accepted")
    except ApiException as e:
        assert e.status == 404, e.status
        assert "The requested resource was not found." in e.body, e.body

    try:
        usage.get_oauth_client_usage_summary(KNOWN_CLIENT, days="100000")
        raise SystemExit("days=100000 was accepted")
    except ApiException as e:
        assert e.status == 400, e.status
        body = json.loads(e.body)
        assert body["code"] == "invalid.query.param.value", body
        assert body["messageParams"]["value"] == "100000", body
        assert "{value}" in body["messageWithParams"], body

    limits = limits_family(api, today)

    print(
        f"official Python SDK against usage-fake: query {len(result.results)} rows, "
        f"job {rows} rows in pages of 10, simple search {len(found.results)} rows, "
        f"summary, 404 and 400 as upstream; the limits family: {limits}"
    )


def limits_family(api, today):
    """The 11 operations of the limits family, each answer decoded by the SDK's models."""
    organization = pc.OrganizationApi(api)
    events = pc.OperationalEventsApi(api)
    analytics = pc.AnalyticsApi(api)

    docs = organization.get_organizations_limits_docs()
    keys = {l.key: l for n in docs.namespaces for l in n.limits}
    limit = keys["client.credentials.token.rate.per.minute"]
    assert limit.default_value == 300 and limit.trackable, limit
    organization.get_organizations_limits_namespaces()
    effective = organization.get_organizations_limits_namespace("platform.api")
    defaults = organization.get_organizations_limits_namespace_defaults("platform.api")
    value = lambda listing: next(
        l.value for l in listing.entities if l.key == "client.credentials.token.rate.per.minute"
    )
    assert (value(effective), value(defaults)) == (600, 300)
    try:
        organization.get_organizations_limits_namespace("no.such.namespace")
        raise SystemExit("an unknown namespace was accepted")
    except ApiException as e:
        assert e.status == 404, e.status

    requests = organization.get_organizations_limits_changerequests(expand=["statusHistory"])
    statuses = sorted(r.status for r in requests.entities)
    assert statuses == ["ChangeImplemented", "Open", "Pending", "Rejected"], statuses
    # The same key in two namespaces: a key alone names no limit.
    assert sorted({r.namespace for r in requests.entities}) == ["auth.api", "platform.api"]
    assert all(r.status_history for r in requests.entities)
    one = organization.get_organizations_limits_changerequest(requests.entities[0].id)
    assert one.key == requests.entities[0].key

    definitions = events.get_usage_events_definitions()
    events.get_usage_events_definition(definitions.entities[0].id)
    interval = f"{today - datetime.timedelta(days=7)}T00:00:00Z/{today}T00:00:00Z"
    body = pc.EventQueryRequest()
    body.interval = interval
    page = events.post_usage_events_query(body=body, page_size="25")
    seen = len(page.entities)
    for _ in range(100):
        if not page.next_uri:
            break
        # The cursor is percent-encoded in the nextUri (base64: `+`, `/`, `=`); the SDK
        # encodes what it is given, so it is decoded first.
        after = urllib.parse.unquote(page.next_uri.split("after=")[1].split("&")[0])
        page = events.post_usage_events_query(body=body, after=after, page_size="25")
        seen += len(page.entities)
    assert page.next_uri is None, "event paging did not end"
    counts = pc.EventAggregatesQueryRequest()
    counts.interval = interval
    aggregates = events.post_usage_events_aggregates_query(body=counts)
    counted = sum(a.event_count for a in aggregates.event_definition_aggregates)
    assert counted == seen, (counted, seen)

    query = pc.RateLimitAggregationQuery()
    query.interval = interval
    query.granularity = "P1D"
    query.group_by = ["entityId", "limitName"]
    query.metrics = ["oRateLimitRecorded"]
    records = analytics.post_analytics_ratelimits_aggregates_query(query)
    recorded = sum(
        m.stats.count for r in records.results for d in r.data for m in d.metrics
    )
    assert recorded == seen, (recorded, seen)
    # Grouped by user too: the per-user limit's records name users, the others none, and
    # the records add up the same.
    query.group_by = ["entityId", "userId", "limitName"]
    by_user = analytics.post_analytics_ratelimits_aggregates_query(query)
    assert sum(
        m.stats.count for r in by_user.results for d in r.data for m in d.metrics
    ) == seen
    users = {
        r.group["userId"]
        for r in by_user.results
        if r.group.get("limitName") == "org.app.user.rate.per.minute"
    }
    assert len(users) == 2, users
    assert all(
        "userId" not in r.group
        for r in by_user.results
        if r.group.get("limitName") != "org.app.user.rate.per.minute"
    )
    return f"{len(keys)} limits, {len(requests.entities)} change requests, {seen} events = {recorded} near-limit records, of {len(users)} users for the per-user limit"


if __name__ == "__main__":
    main(sys.argv[1])
