"""The oracle of the limits figures: what `report`, `evidence` and `check --max-limit-hours`
must say, computed by DuckDB's SQL straight from a dataset `genesys-usage sync` wrote (hive
partitioning on), independently of the tool's code.

python3 duckdb_limits_oracle.py DIR FIRST LAST MAX_HOURS  (days, both included)
prints {"clients": {id: {"nearLimitHours": n, "limits": [{namespace, limitKey, limitValue,
nearLimitHours, records, peakHoursUtc, peakRecords, users}]}}, "org": [{namespace, limitKey,
hours, clients, others, users}], "breaches": {id: hours}}

- A client is an OAuth client with usage in the window; any other entity is "other".
- A client's hours are the distinct hours with a record for any of its limits; a limit's
  hours are its distinct hours; the org's hours of a limit are the distinct hours any
  entity had a record for it. A record with a count of 0 is no hour.
- The peak: the hours of the day (UTC) tied at the most records of that limit.
- Users (`userId`, a limit per user of an app) are shown with their app, never counted as
  entities: a limit's users are the distinct ones its records name; the org's are the
  distinct (app, user) pairs.
- A breach of MAX_HOURS: a client with more distinct hours than that."""

import json
import sys

import duckdb

root, first, last, max_hours = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
con = duckdb.connect()
con.execute(
    f"""
    CREATE VIEW records AS
    SELECT bucketStart AS hour, entityId AS entity, userId AS "user", namespace,
           limitName AS key, "max" AS value, "count" AS n
    FROM read_parquet('{root}/ratelimits/**/*.parquet', hive_partitioning = true)
    WHERE granularity = 'hour' AND "count" > 0
      AND CAST(bucketStart AS DATE) BETWEEN DATE '{first}' AND DATE '{last}'
    """
)
con.execute(
    f"""
    CREATE VIEW clients AS
    SELECT DISTINCT oauthClientId AS id
    FROM read_parquet('{root}/usage/**/*.parquet', hive_partitioning = true)
    WHERE granularity = 'day' AND CAST(date AS DATE) BETWEEN DATE '{first}' AND DATE '{last}'
    """
)

clients = {}
for entity, hours in con.execute(
    """
    SELECT entity, count(DISTINCT hour) FROM records
    WHERE entity IN (SELECT id FROM clients) GROUP BY entity
    """
).fetchall():
    clients[entity] = {"nearLimitHours": hours, "limits": []}

per_limit = con.execute(
    """
    WITH by_hour AS (
        SELECT entity, namespace, key, hour(hour) AS h, sum(n) AS n
        FROM records GROUP BY ALL
    ), peak AS (
        SELECT entity, namespace, key, max(n) AS most FROM by_hour GROUP BY ALL
    ), tied AS (
        SELECT b.entity, b.namespace, b.key, list(b.h ORDER BY b.h) AS hours, p.most
        FROM by_hour b JOIN peak p USING (entity, namespace, key)
        WHERE b.n = p.most GROUP BY ALL
    )
    SELECT r.entity, r.namespace, r.key, arg_max(r.value, r.hour), count(DISTINCT r.hour),
           sum(r.n), t.hours, t.most, list_sort(list_distinct(list(r."user")))
    FROM records r JOIN tied t USING (entity, namespace, key)
    WHERE r.entity IN (SELECT id FROM clients)
    GROUP BY r.entity, r.namespace, r.key, t.hours, t.most
    """
).fetchall()
for entity, namespace, key, value, hours, records, peak, most, users in per_limit:
    clients[entity]["limits"].append(
        {
            "namespace": namespace,
            "limitKey": key,
            "limitValue": int(value) if value is not None else None,
            "nearLimitHours": hours,
            "records": int(records),
            "peakHoursUtc": list(peak),
            "peakRecords": int(most),
            "users": list(users),
        }
    )
for client in clients.values():
    client["limits"].sort(key=lambda l: (-l["nearLimitHours"], l["limitKey"], l["namespace"]))

org = [
    {"namespace": ns, "limitKey": key, "hours": hours, "clients": known, "others": others,
     "users": users}
    for ns, key, hours, known, others, users in con.execute(
        """
        SELECT namespace, key, count(DISTINCT hour),
               count(DISTINCT entity) FILTER (WHERE entity IN (SELECT id FROM clients)),
               count(DISTINCT entity) FILTER (WHERE entity NOT IN (SELECT id FROM clients)),
               count(DISTINCT entity || '/' || "user")
        FROM records GROUP BY ALL
        ORDER BY 3 DESC, key, namespace
        """
    ).fetchall()
]
breaches = {k: c["nearLimitHours"] for k, c in clients.items() if c["nearLimitHours"] > max_hours}
json.dump({"clients": clients, "org": org, "breaches": breaches}, sys.stdout)
