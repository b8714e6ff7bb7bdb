{#
    One row per item of a node's credits list (the dlt child table
    titles__credits). `title_dlt_id` is the node's `dlt_id` in stg_justwatch__titles:
    intermediate models join on it, so each staging model reads exactly one source table.
#}
with

credits as (

    select * from {{ source('justwatch', 'titles__credits') }}

),

renamed as (

    select
        cast(credits._dlt_parent_id as {{ dbt.type_string() }}) as title_dlt_id,
        upper({{ clean_text('credits.role') }}) as credit_role,
        {{ clean_text('credits.name') }} as person_name,
        {{ clean_text('credits.character_name') }} as character_name,
        cast(credits._dlt_list_idx as integer) as billing_position

    from credits

),

final as (

    select
        title_dlt_id,
        credit_role,
        person_name,
        character_name,
        billing_position

    from renamed

    where person_name is not null

)

select * from final
