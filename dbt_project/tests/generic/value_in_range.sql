{#
    Non-null values lie in [min_value, max_value]. Bounds are numbers or SQL expressions;
    `max_years_ahead: N` bounds a year column by the current year + N on every target (the
    Great Expectations gate reads the same arguments from the yml: core/mart_schema.py).
#}
{% test value_in_range(model, column_name, min_value=none, max_value=none, max_years_ahead=none) %}

with

final as (

    select {{ column_name }} as out_of_range_value

    from {{ model }}

    where
        {{ column_name }} is not null
        and (
            1 = 0
            {%- if min_value is not none %}
            or {{ column_name }} < {{ min_value }}
            {%- endif %}
            {%- if max_value is not none %}
            or {{ column_name }} > {{ max_value }}
            {%- endif %}
            {%- if max_years_ahead is not none %}
            or {{ column_name }} > extract(year from current_date) + {{ max_years_ahead }}
            {%- endif %}
        )

)

select * from final

{% endtest %}
