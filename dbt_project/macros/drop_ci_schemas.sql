{#
    Drops a CI build's schemas: the CI profile's own schema (`ci_pr_7`) and every `ci_pr_7_*` one
    dbt built the change into (generate_schema_name.sql prefixes them). Refuses the pipeline's
    targets (var `shared_schema_targets`), whose schemas are the published ones.
    `dbt run-operation drop_ci_schemas --target ci` (scripts/deploy.py ci-build --cleanup).
#}
{% macro drop_ci_schemas() -%}
    {%- if target.name in var('shared_schema_targets') -%}
        {{ exceptions.raise_compiler_error("drop_ci_schemas runs on a CI target only, not " ~ target.name) }}
    {%- endif -%}
    {%- set prefix = target.schema | trim | lower -%}
    {%- for schema in list_schemas(target.database).columns[0].values() -%}
        {%- if schema | lower == prefix or (schema | lower).startswith(prefix ~ '_') -%}
            {%- do adapter.drop_schema(api.Relation.create(database=target.database, schema=schema)) -%}
            {{ log("dropped schema " ~ schema, info=true) }}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
