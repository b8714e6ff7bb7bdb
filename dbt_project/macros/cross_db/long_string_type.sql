{#
    A string type wide enough for synopses and JSON arrays. Redshift's bare `varchar` is
    varchar(256); its widest is varchar(65535). DuckDB and PostgreSQL varchar is unbounded.
#}
{% macro long_string_type() -%}
    {{ return(adapter.dispatch('long_string_type', 'trending_now')()) }}
{%- endmacro %}

{% macro default__long_string_type() -%}
    varchar
{%- endmacro %}

{% macro redshift__long_string_type() -%}
    varchar(65535)
{%- endmacro %}
