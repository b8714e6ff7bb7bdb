{#
    Comma-separated list of `measure` per group, ordered by `order_by`. Callers pass distinct,
    trimmed, non-empty values (dedupe in a subquery first: Redshift's listagg has no portable
    `distinct` through dbt.listagg).
#}
{% macro csv_agg(measure, order_by) -%}
    {{ dbt.listagg(measure, "', '", "order by " ~ order_by) }}
{%- endmacro %}
