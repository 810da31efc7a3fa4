//! Property tests of the pure core (native): parsing never panics on any input, every valid
//! partner key survives the whole trip from a partner link to a cookie and back, the tolerant
//! decoding of partner links agrees with the base64 crate's strict engines on every encoding they
//! write, and the stored retry queue reads back unchanged.
#![cfg(not(target_arch = "wasm32"))]

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use proptest::prelude::*;
use reftrack::core::attribution::Attribution;
use reftrack::core::config::{resolve, Source, SourceKind, Value, OPTION_NAMES};
use reftrack::core::cookie::{self, Attributes};
use reftrack::core::partner_key::{read_params, ParamNames, PartnerKey};
use reftrack::core::retry::{Pending, RetryQueue};

fn names() -> (Vec<String>, Vec<String>, Vec<String>) {
    (
        vec!["ps_partner_key".into(), "gspk".into()],
        vec!["aff".into()],
        vec!["ps_xid".into()],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsing_never_panics(query in any::<String>(), raw in proptest::collection::vec(any::<u8>(), 0..300)) {
        let (p, r, c) = names();
        let names = ParamNames { partner: &p, raw_partner: &r, click: &c };
        // Whatever text the browser's URLSearchParams hands over, for any parameter.
        let _ = read_params(&|_| Some(query.clone()), names);
        let lossy = String::from_utf8_lossy(&raw);
        let _ = read_params(&|_| Some(lossy.to_string()), names);
        let _ = PartnerKey::from_base64(&query);
        let _ = PartnerKey::parse(&query);
        let _ = cookie::get(&query, "ps_xid");
        let _ = cookie::domain_candidates(&query);
        let _ = cookie::domain_matches(&query, &lossy);
        let _ = Attribution::from_cookies(&query);
    }

    #[test]
    fn options_never_panic(values in proptest::collection::vec((0..OPTION_NAMES.len(), any::<String>(), any::<f64>(), any::<bool>()), 0..20)) {
        let mut source = Source::new(SourceKind::Call);
        for (i, text, number, flag) in values {
            let value = match i % 4 { 0 => Value::Text(text), 1 => Value::Number(number), 2 => Value::Bool(flag), _ => Value::List(vec![text]) };
            source.set(OPTION_NAMES[i], value);
        }
        let (config, _) = resolve(&[&source]);
        prop_assert!((1..=400).contains(&config.cookie_days));
    }

    #[test]
    fn every_valid_key_round_trips(
        key in "[A-Za-z0-9._~@:+-]{1,128}",
        url_safe in any::<bool>(),
        escape in any::<bool>(),
        xid in proptest::option::of("[A-Za-z0-9._~@:+-]{1,128}"),
    ) {
        let encoded = if url_safe { URL_SAFE_NO_PAD.encode(&key) } else { STANDARD.encode(&key) };
        // What URLSearchParams.get returns: the text itself when the link percent-encoded it, and
        // with `+` read as a space when the link carried it raw (form decoding).
        let value = if escape { encoded } else { encoded.replace('+', " ") };
        let params = |name: &str| match name {
            "ps_partner_key" => Some(value.clone()),
            "ps_xid" => xid.clone(),
            _ => None,
        };
        let (p, r, c) = names();
        let landing = read_params(&params, ParamNames { partner: &p, raw_partner: &r, click: &c });
        let decoded = landing.partner_key().expect("a valid key is accepted");
        prop_assert_eq!(decoded.as_str(), key.as_str());

        // Into cookies and back, as the browser would hand them to the next page.
        let attributes = Attributes { max_age: 86_400, domain: Some("acme.test".into()), secure: true };
        let mut jar = vec!["_ga=GA1.1.1".to_string()];
        for name in cookie::PARTNER_KEY_COOKIES {
            let set = cookie::set_cookie(name, decoded.as_str(), &attributes);
            jar.push(set.split("; ").next().unwrap().to_string());
        }
        if let Some(click) = landing.click_id() {
            let set = cookie::set_cookie(cookie::CLICK_ID_COOKIE, click.as_str(), &attributes);
            jar.push(set.split("; ").next().unwrap().to_string());
        }
        let stored = Attribution::from_cookies(&jar.join("; "));
        prop_assert_eq!(stored.partner_key.as_ref().map(|k| k.as_str()), Some(key.as_str()));
        prop_assert_eq!(stored.click_id.as_ref().map(|c| c.as_str()), xid.as_deref());
    }

    #[test]
    fn base64_decoding_agrees_with_the_base64_crate(bytes in proptest::collection::vec(any::<u8>(), 0..100), url_safe in any::<bool>()) {
        let encoded = if url_safe { URL_SAFE_NO_PAD.encode(&bytes) } else { STANDARD.encode(&bytes) };
        let ours = PartnerKey::from_base64(&encoded);
        let expected = String::from_utf8(bytes).ok().map(|text| PartnerKey::parse(&text));
        match expected {
            Some(expected) if !encoded.is_empty() => prop_assert_eq!(ours, expected),
            _ => prop_assert!(ours.is_err()),
        }
    }

    #[test]
    fn the_stored_queue_reads_back_unchanged(
        entries in proptest::collection::vec(("[0-9a-f-]{36}", any::<String>(), any::<u64>(), any::<u32>()), 0..5),
        garbage in any::<String>(),
    ) {
        // Bodies as the browser writes them: JSON, whatever text the page put in.
        let queue = RetryQueue(entries.into_iter().map(|(id, text, at, attempts)| {
            let body = serde_json::json!({ "name": text }).to_string();
            Pending { event_id: id, endpoint: "https://acme.test/v1/signups".into(), body, created_at: at, attempts, next_at: at }
        }).collect());
        prop_assert_eq!(RetryQueue::from_text(&queue.to_text()), queue);
        let _ = RetryQueue::from_text(&garbage);
    }
}
