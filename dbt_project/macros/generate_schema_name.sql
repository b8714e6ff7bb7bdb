{#
    Schemas per target. On the pipeline's warehouse targets (var `shared_schema_targets`: duckdb,
    postgres, redshift) a model goes to exactly its custom schema: `staging`, `intermediate`,
    `marts`, `marts_audit` (the pipeline, Great Expectations and the export read them). Any other
    target (`dev`, `ci` in profiles.yml) prefixes them with its own schema (`dev_alice_staging`,
    `ci_marts`), so a developer's or CI's build never writes into the published tables.
    core/dbt_relations.py applies the same rule in Python (a test holds them equal).
    A node without a custom schema goes to the target schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- elif target.name in var('shared_schema_targets') -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ target.schema | trim }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
