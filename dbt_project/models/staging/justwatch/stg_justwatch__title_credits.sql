with

titles as (

    select * from {{ source('justwatch', 'titles') }}

),

credits as (

    select * from {{ source('justwatch', 'titles__credits') }}

),

joined as (

    select
        cast(titles.id as {{ dbt.type_string() }}) as node_id,
        upper({{ clean_text('credits.role') }}) as credit_role,
        {{ clean_text('credits.name') }} as person_name,
        {{ clean_text('credits.character_name') }} as character_name,
        cast(credits._dlt_list_idx as integer) as billing_position

    from credits

    inner join titles
        on credits._dlt_parent_id = titles._dlt_id

),

final as (

    select
        node_id,
        credit_role,
        person_name,
        character_name,
        billing_position

    from joined

    where person_name is not null

)

select * from final
