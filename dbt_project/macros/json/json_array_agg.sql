{#
    Aggregate rows into a JSON array of objects, as text, ordered by `order_by`.

    fields: list of {"key": json key, "expr": sql expression, "type": "string" | "number"}.
    Returns null for a group with no rows: aggregate matched rows only and coalesce to '[]'
    after the join.

    DuckDB and PostgreSQL build JSON natively (their escaping is exact). Redshift has no
    json_agg, so it assembles the text with listagg and json_escape(). Setting the var
    `portable_json: true` forces that portable path on any target (the tests use it to prove
    the Redshift SQL yields valid JSON on DuckDB and PostgreSQL).
#}
{% macro json_array_agg(fields, order_by) -%}
    {%- if var('portable_json', false) -%}
        {{ return(trending_now.portable_json_array_agg(fields, order_by)) }}
    {%- endif -%}
    {{ return(adapter.dispatch('json_array_agg', 'trending_now')(fields, order_by)) }}
{%- endmacro %}

{% macro duckdb__json_array_agg(fields, order_by) -%}
    cast(to_json(list(json_object(
        {%- for field in fields %}
        '{{ field.key }}', {{ field.expr }}{{ "," if not loop.last }}
        {%- endfor %}
    ) order by {{ order_by }})) as varchar)
{%- endmacro %}

{% macro postgres__json_array_agg(fields, order_by) -%}
    cast(json_agg(json_build_object(
        {%- for field in fields %}
        '{{ field.key }}', {{ field.expr }}{{ "," if not loop.last }}
        {%- endfor %}
    ) order by {{ order_by }}) as text)
{%- endmacro %}

{% macro redshift__json_array_agg(fields, order_by) -%}
    {{ return(trending_now.portable_json_array_agg(fields, order_by)) }}
{%- endmacro %}

{% macro default__json_array_agg(fields, order_by) -%}
    {{ return(trending_now.portable_json_array_agg(fields, order_by)) }}
{%- endmacro %}

{% macro portable_json_array_agg(fields, order_by) -%}
    {%- set members = [] -%}
    {%- for field in fields -%}
        {%- if field.type == 'number' -%}
            {%- set value = "coalesce(cast(" ~ field.expr ~ " as " ~ trending_now.long_string_type() ~ "), 'null')" -%}
        {%- else -%}
            {%- set value = "case when " ~ field.expr ~ " is null then 'null' else chr(34) || "
                ~ trending_now.json_escape(field.expr) ~ " || chr(34) end" -%}
        {%- endif -%}
        {%- do members.append(("'," if not loop.first else "'") ~ '"' ~ field.key ~ '"' ~ ":' || " ~ value) -%}
    {%- endfor -%}
    {%- set object_sql = "'{' || " ~ (members | join(" || ")) ~ " || '}'" -%}
    '[' || {{ dbt.listagg(object_sql, "','", "order by " ~ order_by) }} || ']'
{%- endmacro %}
