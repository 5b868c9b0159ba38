"""Totals of a dataset `genesys-usage sync` wrote, read by DuckDB as a user would (hive
partitioning on): requests per day and OAuth client from the usage table, and near-limit
records per day and entity from the rate-limit table.
{"usage": {"YYYY-MM-DD clientId": requests}, "ratelimits": {"YYYY-MM-DD entityId": records}}"""

import json
import sys

import duckdb

root = sys.argv[1]
usage = duckdb.sql(
    f"""
    SELECT strftime(date, '%Y-%m-%d') || ' ' || oauthClientId AS k, sum(requestCount)::BIGINT
    FROM read_parquet('{root}/usage/**/*.parquet', hive_partitioning = true)
    WHERE granularity = 'day'
    GROUP BY 1
    """
).fetchall()
ratelimits = duckdb.sql(
    f"""
    SELECT strftime(date, '%Y-%m-%d') || ' ' || entityId AS k, sum("count")::BIGINT
    FROM read_parquet('{root}/ratelimits/**/*.parquet', hive_partitioning = true)
    WHERE granularity = 'hour'
    GROUP BY 1
    """
).fetchall()
json.dump({"usage": dict(usage), "ratelimits": dict(ratelimits)}, sys.stdout)
