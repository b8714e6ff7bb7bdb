{#
    Every non-null value of the column parses as JSON of `json_type` ('array' or 'object').
    Dispatched: DuckDB json_valid, PostgreSQL a safe-cast function, Redshift is_valid_json(_array).
#}
{% test valid_json(model, column_name, json_type='array') %}

with

checked as (

    select
        {{ column_name }} as json_text,
        {{ trending_now.json_type_of(column_name) }} as parsed_type

    from {{ model }}

    where {{ column_name }} is not null

),

final as (

    select
        json_text,
        parsed_type

    from checked

    where parsed_type is null or parsed_type <> '{{ json_type }}'

)

select * from final

{% endtest %}
