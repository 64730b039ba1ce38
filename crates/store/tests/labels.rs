//! Labels in the index: import, lookup by address and output, re-import replaces.

use chaintrace_model::btc::AddrKey;
use chaintrace_model::{Category, Label};
use chaintrace_store::labels::LabelStore;
use chaintrace_store::tables::{LabelId, LabelTarget};
use chaintrace_store::{OpenMode, Store};

fn label(name: &str, category: Category) -> Label {
    Label {
        name: name.into(),
        category,
        raw_category: None,
        abuse: None,
        confidence: 80,
        source: "https://example.org".into(),
        file: "pack.yaml".into(),
        is_cluster_definer: true,
        actor: None,
    }
}

#[test]
fn import_lookup_and_replace() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    let labels = LabelStore::new(&store);
    let a = AddrKey::Pkh([1; 20]);
    let b = AddrKey::Wsh([2; 32]);
    // A 20-byte key must not see the labels of a longer key that starts with the same bytes.
    let w20 = AddrKey::from_bytes(&[[6u8, 2].as_slice(), &[7; 20]].concat()).unwrap();
    let w24 = AddrKey::from_bytes(&[[6u8, 2].as_slice(), &[7; 24]].concat()).unwrap();
    let ex = label("Bitvault", Category::Exchange);
    let entries = vec![
        (LabelTarget::BtcAddr(a), ex.clone()),
        (LabelTarget::BtcAddr(b), ex.clone()),
        (LabelTarget::BtcAddr(w24), label("Mixer", Category::Mixer)),
        (
            LabelTarget::BtcOutput([9; 32], 3),
            label("hack", Category::Theft),
        ),
    ];
    let out = labels
        .import("pack.yaml", "tagpack", "abc", &entries)
        .unwrap();
    assert_eq!((out.labels, out.targets, out.replaced), (3, 4, 0));
    assert_eq!(
        labels.of_btc_addr(&a).unwrap(),
        vec![(LabelId(1), ex.clone())]
    );
    assert_eq!(labels.of_btc_addr(&b).unwrap()[0].0, LabelId(1));
    assert!(labels.of_btc_addr(&w20).unwrap().is_empty());
    assert_eq!(
        labels.of_btc_addr(&w24).unwrap()[0].1.category,
        Category::Mixer
    );
    assert_eq!(
        labels.of_btc_output(&[9; 32], 3).unwrap()[0].1.category,
        Category::Theft
    );
    assert!(labels.of_btc_output(&[9; 32], 4).unwrap().is_empty());
    let targets: Vec<_> = labels.targets(LabelId(1)).map(Result::unwrap).collect();
    assert_eq!(targets.len(), 2);

    // Re-importing the file replaces its labels; other files are untouched.
    labels
        .import(
            "other.csv",
            "csv",
            "def",
            &[(LabelTarget::BtcAddr(a), label("Other", Category::Scam))],
        )
        .unwrap();
    let again = labels
        .import("pack.yaml", "tagpack", "abc2", &entries[..1])
        .unwrap();
    assert_eq!((again.labels, again.targets, again.replaced), (1, 1, 3));
    assert!(labels.of_btc_addr(&b).unwrap().is_empty());
    assert!(labels.of_btc_output(&[9; 32], 3).unwrap().is_empty());
    let names: Vec<String> = labels
        .of_btc_addr(&a)
        .unwrap()
        .into_iter()
        .map(|(_, l)| l.name)
        .collect();
    assert_eq!(names, vec!["Other".to_string(), "Bitvault".to_string()]);
    assert_eq!(labels.all().count(), 2);
    assert_eq!(labels.files().count(), 2);
}
