{#
    Non-null values lie in [min_value, max_value]. Bounds are SQL expressions, so
    `max_value: "extract(year from current_date) + 1"` works on every target.
#}
{% test value_in_range(model, column_name, min_value=none, max_value=none) %}

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
        )

)

select * from final

{% endtest %}
