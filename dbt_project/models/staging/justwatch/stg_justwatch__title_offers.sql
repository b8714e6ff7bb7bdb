with

titles as (

    select * from {{ source('justwatch', 'titles') }}

),

offers as (

    select * from {{ source('justwatch', 'titles__offers') }}

),

joined as (

    select
        cast(titles.id as {{ dbt.type_string() }}) as node_id,
        upper({{ clean_text('offers.monetization_type') }}) as monetization_type,
        upper({{ clean_text('offers.presentation_type') }}) as presentation_type,
        {{ clean_text('offers.package_clear_name') }} as package_name,
        lower({{ clean_text('offers.package_short_name') }}) as package_short_name,
        cast(offers._dlt_list_idx as integer) as list_position

    from offers

    inner join titles
        on offers._dlt_parent_id = titles._dlt_id

),

final as (

    select
        node_id,
        monetization_type,
        presentation_type,
        package_name,
        package_short_name,
        list_position

    from joined

    where package_name is not null

)

select * from final
