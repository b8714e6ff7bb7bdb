{#
    Escape a text expression for use inside a JSON string literal, with plain string functions
    that behave the same on Redshift, PostgreSQL and DuckDB. Characters are written with chr()
    rather than as literals because Redshift treats backslashes in string literals as escapes.
    Order matters: backslashes first, then quotes, then control characters U+0001..U+001F
    (U+0000 cannot occur in PostgreSQL/Redshift text).
#}
{% macro json_escape(expression) -%}
    {%- set named = {8: 'b', 9: 't', 10: 'n', 12: 'f', 13: 'r'} -%}
    {%- set ns = namespace(sql="replace(replace(cast(" ~ expression ~ " as " ~ trending_now.long_string_type()
        ~ "), chr(92), chr(92) || chr(92)), chr(34), chr(92) || chr(34))") -%}
    {%- for code in range(1, 32) -%}
        {%- if code in named -%}
            {%- set escaped = "chr(92) || '" ~ named[code] ~ "'" -%}
        {%- else -%}
            {%- set escaped = "chr(92) || 'u00" ~ ('%02x' | format(code)) ~ "'" -%}
        {%- endif -%}
        {%- set ns.sql = "replace(" ~ ns.sql ~ ", chr(" ~ code ~ "), " ~ escaped ~ ")" -%}
    {%- endfor -%}
    {{ ns.sql }}
{%- endmacro %}
