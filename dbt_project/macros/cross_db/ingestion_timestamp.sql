{#
    The timestamp a changed mart row gets: when this dbt invocation started (UTC). Every row
    changed by one run shares it, and it is reproducible from the run's metadata, unlike now().
    Unit tests override this macro to pin it.
#}
{% macro ingestion_timestamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}+00:00' as timestamp with time zone)
{%- endmacro %}
