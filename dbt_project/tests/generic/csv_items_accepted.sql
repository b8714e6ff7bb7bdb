{#
    Every item of a comma-separated list column is one of the accepted values held in another
    relation's column (`to`, `field`): dbt's accepted_values for lists whose vocabulary lives in a
    seed (`ref('vibe_tags')`), so the list has one owner. Items are trimmed. One failing row per
    list value and item outside the vocabulary.
    Rows whose `except_column` holds one of `except_values` are not checked (the vibe tags of
    prompt versions older than the vocabulary, var free_form_tag_prompt_versions).
    Splitting uses split_part over a generated series: portable to DuckDB, PostgreSQL, Redshift.
#}
{% test csv_items_accepted(model, column_name, to, field, separator=',', max_items=60, except_column=none, except_values=[]) %}

with

list_values as (

    select distinct {{ column_name }} as list_value

    from {{ model }}

    where {{ column_name }} is not null
    {%- if except_column and except_values %}
        and {{ except_column }} not in (
            {%- for value in except_values %}'{{ value }}'{{ ", " if not loop.last }}{% endfor -%}
        )
    {%- endif %}

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
