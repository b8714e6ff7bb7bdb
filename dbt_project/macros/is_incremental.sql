{#
    dbt's is_incremental(), except under `--no-introspect`: then no relation is looked up and
    the model compiles its full-refresh branch. This keeps `dbt compile --no-introspect
    --no-populate-cache` free of any warehouse connection (CI compiles the Redshift target
    offline); every other command behaves exactly as dbt's macro.
#}
{% macro is_incremental() %}
    {%- if execute and flags.INTROSPECT is sameas false -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{% endmacro %}
