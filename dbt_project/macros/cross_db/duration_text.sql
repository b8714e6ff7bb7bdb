{# Runtime in minutes as JustWatch shows it: '24min', '1h 30min', '2h'; null when unknown or 0. #}
{% macro duration_text(minutes) -%}
    {%- set hours = "cast(cast(floor(" ~ minutes ~ " / 60.0) as integer) as " ~ dbt.type_string() ~ ")" -%}
    {%- set rest = "cast(mod(" ~ minutes ~ ", 60) as " ~ dbt.type_string() ~ ")" -%}
    case
        when {{ minutes }} is null or {{ minutes }} <= 0 then null
        when {{ minutes }} < 60 then {{ dbt.concat([rest, "'min'"]) }}
        when mod({{ minutes }}, 60) = 0 then {{ dbt.concat([hours, "'h'"]) }}
        else {{ dbt.concat([hours, "'h '", rest, "'min'"]) }}
    end
{%- endmacro %}
