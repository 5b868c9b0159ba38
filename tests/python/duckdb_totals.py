"""Totals per day and OAuth client of a dataset `genesys-usage sync` wrote, read by DuckDB as
a user would (the README's query, hive partitioning on): {"YYYY-MM-DD clientId": requests}."""

import json
import sys

import duckdb

root = sys.argv[1]
rows = duckdb.sql(
    f"""
    SELECT strftime(date, '%Y-%m-%d') || ' ' || oauthClientId AS k, sum(requestCount)::BIGINT
    FROM read_parquet('{root}/usage/**/*.parquet', hive_partitioning = true)
    WHERE granularity = 'day'
    GROUP BY 1
    """
).fetchall()
json.dump({k: v for k, v in rows}, sys.stdout)
