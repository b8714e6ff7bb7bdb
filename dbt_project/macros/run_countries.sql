{#
    The run's countries (dbt var `countries`: run.countries, comma-separated, primary country first)
    as a list of upper-case codes, and the primary country whose services the published mart lists.
#}
{% macro run_countries() -%}
    {%- set codes = [] -%}
    {%- for code in (var('countries') | string).split(',') if code | trim -%}
        {%- do codes.append(code | trim | upper) -%}
    {%- endfor -%}
    {{ return(codes) }}
{%- endmacro %}

{% macro primary_country() -%}
    {{ return(run_countries()[0]) }}
{%- endmacro %}

{% macro run_countries_sql() -%}
    {#- the run's countries as SQL string literals, for `in (...)`: 'US', 'GB' -#}
    '{{ run_countries() | join("', '") }}'
{%- endmacro %}
