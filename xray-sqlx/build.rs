//! Tells the integration tests which test databases the build was configured for: the cfg
//! `xray_test_postgres` when `XRAY_TEST_POSTGRES_URL` is set, `xray_test_mysql` when
//! `XRAY_TEST_MYSQL_URL` is set. Without them, those tests show as ignored, with the variable to
//! set, instead of passing without running. The library itself does not use these cfgs.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    for (var, cfg) in [("XRAY_TEST_POSTGRES_URL", "xray_test_postgres"), ("XRAY_TEST_MYSQL_URL", "xray_test_mysql")] {
        println!("cargo::rerun-if-env-changed={var}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if std::env::var_os(var).is_some_and(|url| !url.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
