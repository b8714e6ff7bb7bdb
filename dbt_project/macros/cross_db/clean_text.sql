{# Trim a text column and turn empty strings into null. #}
{% macro clean_text(column) -%}
    nullif(trim(cast({{ column }} as {{ trending_now.long_string_type() }})), '')
{%- endmacro %}
