"""The auth contract's GraphQL fields (Slicknode, Graphcool's ``loginUser``, the Stitch
providers, ``viewer``, root-only admin fields), added to the schema the engine builds."""
