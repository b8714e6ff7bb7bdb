{#
    A comma-separated list column is clean: no leading/trailing spaces on the value or on any
    item, no empty items, no duplicate items, at most `max_items` items.
    `separator` is the exact joiner (', ' for the lists dbt builds). With `strip_items: true`
    (lists written by other tools joined with ',' or ', '), items are trimmed before the
    empty/duplicate checks and only the whole value's edges are checked for spaces.
    Splitting uses split_part over a generated series: portable to DuckDB, PostgreSQL, Redshift.
#}
{% test csv_hygiene(model, column_name, separator=', ', strip_items=false, max_items=60) %}

{%- set item_expr = "split_part(list_value, '" ~ separator ~ "', item_number)" -%}

with

list_values as (

    select distinct {{ column_name }} as list_value

    from {{ model }}

    where {{ column_name }} is not null

),

item_numbers as (

    {%- for number in range(1, max_items + 2) %}
    select {{ number }} as item_number{{ " union all" if not loop.last }}
    {%- endfor %}

),

items as (

    select
        list_values.list_value,
        item_numbers.item_number,
        {% if strip_items -%}
        trim({{ item_expr }}) as item
        {%- else -%}
        {{ item_expr }} as item
        {%- endif %}

    from list_values

    inner join item_numbers
        on item_numbers.item_number <= (
            length(list_values.list_value)
            - length(replace(list_values.list_value, '{{ separator }}', ''))
        ) / {{ separator | length }} + 1

),

edge_problems as (

    select
        list_value,
        'leading or trailing space' as problem

    from list_values

    where list_value <> trim(list_value)

),

item_problems as (

    select
        list_value,
        case
            when item = '' then 'empty item'
            when item <> trim(item) then 'item with leading or trailing space'
            when item_number > {{ max_items }} then 'more than {{ max_items }} items'
        end as problem

    from items

    where item = '' or item <> trim(item) or item_number > {{ max_items }}

),

duplicate_problems as (

    select
        list_value,
        'duplicate item' as problem

    from items

    where item <> ''

    group by list_value, item

    having count(*) > 1

),

final as (

    select list_value, problem from edge_problems
    union all
    select list_value, problem from item_problems
    union all
    select list_value, problem from duplicate_problems

)

select * from final

{% endtest %}
