{#
    The JSON type of a text value ('array', 'object', ...), or null when it is not valid JSON.
    Used by the `valid_json` generic test. Never raises on bad input.
#}
{% macro json_type_of(expression) -%}
    {{ return(adapter.dispatch('json_type_of', 'trending_now')(expression)) }}
{%- endmacro %}

{% macro duckdb__json_type_of(expression) -%}
    case when json_valid({{ expression }}) then lower(json_type(cast({{ expression }} as json))) end
{%- endmacro %}

{% macro postgres__json_type_of(expression) -%}
    {{ target.schema }}.trending_now_json_type({{ expression }})
{%- endmacro %}

{% macro redshift__json_type_of(expression) -%}
    case
        when is_valid_json_array({{ expression }}) then 'array'
        when is_valid_json({{ expression }}) then 'object'
    end
{%- endmacro %}

{#
    PostgreSQL < 16 has no pg_input_is_valid(): a cast inside an exception block is the safe
    way to test JSON. Created by the project's on-run-start hook (a no-op on other targets).
#}
{% macro create_json_validation_function() -%}
    {%- if target.type == 'postgres' -%}
        create schema if not exists {{ target.schema }};
        create or replace function {{ target.schema }}.trending_now_json_type(value text)
        returns text language plpgsql immutable as $fn$
        begin
            return json_typeof(value::json);
        exception when others then
            return null;
        end;
        $fn$;
    {%- endif -%}
{%- endmacro %}
