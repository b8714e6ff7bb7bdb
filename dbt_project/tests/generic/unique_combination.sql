{# The combination of `columns` is unique across the model (no dbt_utils needed). #}
{% test unique_combination(model, columns) %}

with

final as (

    select
        {{ columns | join(', ') }},
        count(*) as occurrences

    from {{ model }}

    group by {{ columns | join(', ') }}

    having count(*) > 1

)

select * from final

{% endtest %}
