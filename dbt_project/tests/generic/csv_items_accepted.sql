{#
    Every item of a comma-separated list column is one of the accepted values held in another
    relation's column (`to`, `field`): dbt's accepted_values for lists whose vocabulary lives in a
    seed (`ref('vibe_tags')`), so the list has one owner. Items are trimmed. One failing row per
    list value and item outside the vocabulary.
    Splitting uses split_part over a generated series: portable to DuckDB, PostgreSQL, Redshift.
#}
{% test csv_items_accepted(model, column_name, to, field, separator=',', max_items=60) %}

with

list_values as (

    select distinct {{ column_name }} as list_value

    from {{ model }}

    where {{ column_name }} is not null

),

item_numbers as (

    {%- for number in range(1, max_items + 1) %}
    select {{ number }} as item_number{{ " union all" if not loop.last }}
    {%- endfor %}

),

items as (

    select
        list_values.list_value,
        trim(split_part(list_values.list_value, '{{ separator }}', item_numbers.item_number)) as item

    from list_values

    inner join item_numbers
        on item_numbers.item_number <= (
            length(list_values.list_value)
            - length(replace(list_values.list_value, '{{ separator }}', ''))
        ) / {{ separator | length }} + 1

),

accepted as (

    select {{ field }} as accepted_value

    from {{ to }}

),

final as (

    select
        items.list_value,
        items.item

    from items

    left join accepted
        on items.item = accepted.accepted_value

    where accepted.accepted_value is null
        and items.item <> ''

)

select * from final

{% endtest %}
