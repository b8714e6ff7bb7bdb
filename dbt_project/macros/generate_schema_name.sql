{#
    Schemas are exactly `staging`, `intermediate` and `marts` on every target (the pipeline,
    Great Expectations and the export read them by name). dbt's default would prefix them with
    the target schema (`public_marts`); a node without a custom schema goes to the target schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
