//! Round trips: raw messages through the codec, typed messages through the
//! raw layer, both with every field the spec allows.

use payfault::wire::spec::{field_spec, is_data_field, Charset, LengthKind};
use payfault::wire::typed::*;
use payfault::wire::types::*;
use payfault::wire::{decode, encode, sign, verify, MacKey, Message, Mti, WireMessage};
use proptest::prelude::*;

fn field_value(number: u8) -> impl Strategy<Value = Vec<u8>> {
    let spec = field_spec(number).unwrap();
    let (min, max) = match spec.length {
        LengthKind::Fixed(n) => (n, n),
        LengthKind::LlVar(n) | LengthKind::LllVar(n) => (0, n),
    };
    let charset = spec.charset;
    proptest::collection::vec(any::<u8>(), min..=max).prop_map(move |mut bytes| {
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = match charset {
                Charset::Binary => *byte,
                Charset::Text => 0x20 + *byte % 0x5F,
                Charset::Numeric => b'0' + *byte % 10,
                Charset::SignedNumeric if index == 0 => [b'C', b'D'][usize::from(*byte % 2)],
                Charset::SignedNumeric => b'0' + *byte % 10,
            };
        }
        bytes
    })
}

fn arbitrary_message() -> impl Strategy<Value = Message> {
    let fields = proptest::sample::subsequence(
        (2u8..=128).filter(|n| is_data_field(*n)).collect::<Vec<_>>(),
        0..20,
    );
    (0u16..=9999, fields)
        .prop_flat_map(|(mti, numbers)| {
            let values: Vec<_> = numbers.iter().map(|n| field_value(*n)).collect();
            (Just(mti), Just(numbers), values)
        })
        .prop_map(|(mti, numbers, values)| {
            let mut message = Message::new(Mti::from_value(mti).unwrap());
            for (number, value) in numbers.into_iter().zip(values) {
                message.set(number, value);
            }
            message
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_valid_message_round_trips(message in arbitrary_message()) {
        let bytes = encode(&message).unwrap();
        prop_assert_eq!(decode(&bytes).unwrap(), message);
    }

    #[test]
    fn any_signed_message_verifies(message in arbitrary_message(), key in any::<[u8; 16]>()) {
        let mut message = message;
        let bytes = sign(&mut message, &MacKey(key)).unwrap();
        prop_assert_eq!(verify(&bytes, &MacKey(key)).unwrap(), message);
    }
}

fn trace() -> Trace {
    Trace {
        terminal: TerminalId::new("TERM0001").unwrap(),
        stan: Stan::new(42).unwrap(),
        local_time: LocalTime::from_wire("093000").unwrap(),
        local_date: LocalDate::new(11, 22).unwrap(),
        transmitted: TransmissionTime::from_wire("1122093001").unwrap(),
    }
}

fn original() -> OriginalData {
    OriginalData {
        mti: Mti::parse("0200").unwrap(),
        stan: Stan::new(7).unwrap(),
        local_date_time: TransmissionTime::from_wire("1121180000").unwrap(),
        acquirer: InstitutionId::new("12345").unwrap(),
    }
}

fn every_kind_of_message() -> Vec<WireMessage> {
    let eur = |minor| Money::new(minor, Currency::EUR).unwrap();
    let pan = Pan::new("4111111111111111").unwrap();
    let rrn = Rrn::new("000000000042").unwrap();
    let merchant = MerchantId::new("MERCHANT0000001").unwrap();
    let batch = BatchNumber::new(3).unwrap();
    let request = FinancialRequest {
        repeat: false,
        processing: ProcessingCode::Refund,
        pan: pan.clone(),
        expiry: Expiry::from_wire("2812").unwrap(),
        amount: eur(1250),
        trace: trace(),
        acquirer: InstitutionId::new("12345").unwrap(),
        rrn: rrn.clone(),
        merchant: merchant.clone(),
        batch,
        original: Some(original()),
    };
    vec![
        WireMessage::FinancialRequest(request.clone()),
        WireMessage::FinancialRequest(FinancialRequest {
            repeat: true,
            original: None,
            ..request
        }),
        WireMessage::FinancialResponse(FinancialResponse {
            processing: ProcessingCode::Balance,
            amount: eur(0),
            trace: trace(),
            rrn: rrn.clone(),
            response: ResponseCode::Approved,
            approval: Some(ApprovalCode::new("A1B2C3").unwrap()),
            balance: Some(Money::new(123_456, Currency::BHD).unwrap()),
        }),
        WireMessage::ReversalAdvice(ReversalAdvice {
            repeat: true,
            processing: ProcessingCode::Sale,
            pan: pan.clone(),
            amount: eur(1250),
            trace: trace(),
            acquirer: InstitutionId::new("12345").unwrap(),
            rrn: rrn.clone(),
            merchant: merchant.clone(),
            reason: ResponseCode::ResponseTooLate,
            original: original(),
        }),
        WireMessage::ReversalResponse(ReversalResponse {
            trace: trace(),
            rrn: rrn.clone(),
            amount: eur(1250),
            response: ResponseCode::Approved,
        }),
        WireMessage::BatchClose(BatchClose {
            repeat: false,
            trace: trace(),
            merchant: merchant.clone(),
            batch,
            currency: Currency::EUR,
            totals: BatchTotals {
                credit_count: 1,
                credit_amount: 500,
                debit_count: 3,
                debit_amount: 9000,
            },
        }),
        WireMessage::BatchCloseResponse(BatchCloseResponse {
            trace: trace(),
            batch,
            response: ResponseCode::ReconcileError,
        }),
        WireMessage::BatchUpload(BatchUpload {
            trace: trace(),
            merchant,
            batch,
            processing: ProcessingCode::Sale,
            pan,
            amount: eur(3000),
            rrn,
            approval: ApprovalCode::new("A1B2C3").unwrap(),
            item: 2,
            item_count: 3,
        }),
        WireMessage::BatchUploadResponse(BatchUploadResponse {
            trace: trace(),
            batch,
            item: 2,
            response: ResponseCode::Approved,
        }),
        WireMessage::NetworkRequest(NetworkRequest {
            code: 301,
            stan: Stan::new(9).unwrap(),
            transmitted: trace().transmitted,
        }),
        WireMessage::NetworkResponse(NetworkResponse {
            code: 301,
            stan: Stan::new(9).unwrap(),
            transmitted: trace().transmitted,
            response: ResponseCode::Approved,
        }),
    ]
}

#[test]
fn every_typed_message_survives_the_wire() {
    let key = MacKey([0x2B; 16]);
    for typed in every_kind_of_message() {
        let mut raw = typed.to_message();
        let bytes = sign(&mut raw, &key).unwrap();
        let received = verify(&bytes, &key).unwrap();
        assert_eq!(
            WireMessage::from_message(&received).unwrap(),
            typed,
            "{}",
            typed.mti()
        );
    }
}

#[test]
fn missing_and_invalid_fields_are_named() {
    let typed = &every_kind_of_message()[0];
    let mut raw = typed.to_message();
    raw.remove(4);
    assert_eq!(WireMessage::from_message(&raw), Err(FieldError::Missing(4)));
    let mut raw = typed.to_message();
    raw.set_text(3, "999999");
    let error = WireMessage::from_message(&raw).unwrap_err();
    assert!(matches!(error, FieldError::Invalid { field: 3, .. }));
    assert_eq!(error.response_code(), ResponseCode::InvalidTransaction);
    let mut raw = typed.to_message();
    raw.set_text(49, "999");
    assert_eq!(
        WireMessage::from_message(&raw).unwrap_err().response_code(),
        ResponseCode::FormatError
    );
    let raw = Message::new(Mti::parse("0100").unwrap());
    assert!(matches!(
        WireMessage::from_message(&raw),
        Err(FieldError::UnsupportedMti(_))
    ));
}
