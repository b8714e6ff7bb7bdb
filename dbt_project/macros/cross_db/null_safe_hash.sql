{#
    md5 (via dbt.hash) over several expressions, null-safe and unambiguous: each value is cast
    to text, nulls become a marker that cannot be confused with an empty string, and values
    are joined with a unit separator so ('ab', 'c') and ('a', 'bc') hash differently.
#}
{% macro null_safe_hash(expressions) -%}
    {%- set parts = [] -%}
    {%- for expression in expressions -%}
        {%- do parts.append(
            "coalesce(cast(" ~ expression ~ " as " ~ trending_now.long_string_type() ~ "), '<null>')"
        ) -%}
        {%- if not loop.last -%}{%- do parts.append("chr(31)") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}
