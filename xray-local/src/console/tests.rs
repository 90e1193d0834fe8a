use super::*;

#[test]
fn every_asset_has_a_route_and_a_body() {
    for asset in ASSETS {
        assert!(!asset.body.is_empty(), "{} is empty", asset.name);
    }
    let _router: Router<()> = router();
}
