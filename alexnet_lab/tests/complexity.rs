//! The exact complexity figures the lecture's table is checked against.

use alexnet_lab::candle::Device;
use alexnet_lab::lecture::complexity::{slides as lecture, Complexity};
use alexnet_lab::{AlexNetConfig, LeNetConfig, ModelKind};

fn of(cfg: &AlexNetConfig) -> Complexity {
    Complexity::of_specs("AlexNet", &cfg.input_dims(), &cfg.layer_specs().unwrap()).unwrap()
}

#[test]
fn d2l_alexnet_exact_figures() {
    let c = of(&AlexNetConfig::d2l());
    assert_eq!(c.totals.params, 46_764_746);
    assert_eq!(c.totals.macs, 938_146_176);
    assert_eq!(c.totals.flops, 2 * 938_146_176);
    assert_eq!(c.layers[3].macs, 415_334_400, "conv2");
    let convs: Vec<(u64, u64)> = c.rows_of_kind("Conv2d").map(|r| (r.params, r.macs)).collect();
    assert_eq!(
        convs,
        [
            (11_712, 33_872_256),
            (614_656, 415_334_400),
            (885_120, 127_401_984),
            (1_327_488, 191_102_976),
            (884_992, 127_401_984)
        ]
    );
    let dense: Vec<(u64, u64)> = c.rows_of_kind("Linear").map(|r| (r.params, r.macs)).collect();
    assert_eq!(dense, [(26_218_496, 26_214_400), (16_781_312, 16_777_216), (40_970, 40_960)]);
}

#[test]
fn three_channel_alexnet_and_lenet_exact_figures() {
    let c3 = of(&AlexNetConfig { in_channels: 3, ..AlexNetConfig::d2l() });
    assert_eq!((c3.totals.params, c3.totals.macs), (46_787_978, 1_005_890_688));
    let l = LeNetConfig::d2l();
    let cl = Complexity::of_specs("LeNet", &l.input_dims(), &l.layer_specs().unwrap()).unwrap();
    assert_eq!((cl.totals.params, cl.totals.macs), (61_706, 416_520));
}

#[test]
fn table_from_built_model_equals_table_from_layer_list() {
    for kind in [ModelKind::AlexNet, ModelKind::LeNet] {
        let (net, _) = kind.init(None, 0, &Device::Cpu).unwrap();
        let built = Complexity::of(&net).unwrap();
        let listed = Complexity::of_specs(net.name(), &net.input_dims(), &net.specs()).unwrap();
        assert_eq!(built, listed);
    }
}

#[test]
fn dataframe_text_csv_json_agree() {
    let c = of(&AlexNetConfig::d2l());
    let df = c.to_dataframe().unwrap();
    assert_eq!(df.height(), 21);
    let params: u64 = df.column("params").unwrap().u64().unwrap().into_no_null_iter().sum();
    assert_eq!(params, 46_764_746);
    assert!(c.to_table().contains("46,764,746"));
    assert!(c.to_csv().unwrap().lines().last().unwrap().ends_with(",46764746,938146176,1876292352"));
    let j: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
    assert_eq!(j["totals"]["macs"], 938_146_176u64);
    assert_eq!(j["layers"].as_array().unwrap().len(), 21);
}

#[test]
fn lecture_comparison_rows_and_reasons() {
    let rows = lecture::compare_default().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.row.as_str()).collect();
    assert_eq!(names, ["Conv1", "Conv2", "Conv3-5", "Dense1", "Dense2", "Output", "Total", "vs LeNet"]);
    let conv1 = &rows[0];
    assert_eq!((conv1.params, conv1.params_3ch), (11_712, 34_944)); // the slide's 35K is the 3-channel conv1
    assert_eq!(conv1.macs_3ch, 101_616_768); // the slide's 101M
    assert_eq!(rows[2].params, 3_097_600);
    assert_eq!(rows[2].macs, 445_906_944);
    assert_eq!(rows[6].macs_3ch, 1_005_890_688);
    assert_eq!((rows[7].params, rows[7].macs), (758, 2252));
    assert!(rows.iter().all(|r| !r.note.is_empty()));
    assert!(rows[6].note.contains("multiply-adds"));
}

/// The slide's LeNet column: its conv parameters match d2l's LeNet, its dense parameters and
/// every FLOP entry are 10x d2l's (a slip on the slide), and its totals give its 76x / 250x.
#[test]
fn lecture_lenet_column_is_ten_times_d2l_where_it_says_so() {
    use alexnet_lab::lecture::complexity::slides;
    assert_eq!(slides::parse_slide_number("2.4K").unwrap(), 2400.0);
    assert_eq!(slides::parse_slide_number("0.48M").unwrap(), 480_000.0);
    assert!(slides::parse_slide_number("1.2X").is_err());
    let c = slides::lenet_column_default().unwrap();
    let by = |name: &str| c.rows.iter().find(|r| r.row == name).unwrap().clone();
    for conv in ["Conv1", "Conv2"] {
        let r = by(conv);
        assert!((r.params_ratio - 1.0).abs() < 0.05, "{conv}: {r:?}");
        assert!((r.flops_ratio - 10.0).abs() < 0.3, "{conv}: {r:?}");
    }
    for dense in ["Dense1", "Dense2"] {
        let r = by(dense);
        assert!((r.params_ratio - 10.0).abs() < 0.2 && (r.flops_ratio - 10.0).abs() < 0.2, "{dense}: {r:?}");
    }
    assert_eq!((by("Dense1").params, by("Dense1").macs), (48_120, 48_000));
    assert_eq!((c.slide_increase.0.round(), c.slide_increase.1.round()), (77.0, 250.0));
    assert_eq!((c.computed_increase.0.round(), c.computed_increase.1.round()), (758.0, 2252.0));
    let text = c.to_string();
    assert!(text.contains("10x parameters and 260x compute") && text.contains("758x"), "{text}");
}
