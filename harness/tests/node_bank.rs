//! The bank node, driven directly: signed requests in, effects out, ledger
//! inspected. Covers every rule and response code of docs/nodes.md "Bank",
//! idempotency, the planted bugs, conservation and recovery from every
//! journal prefix.

// EUR amounts are written major_minor: `1_000_00` is 1000.00 EUR.

use payfault::node::bank::*;
use payfault::node::{BankId, Bug, Bugs, Calendar, Effect, Millis, Peer, StateMachine};
use payfault::wire::typed::*;
use payfault::wire::types::*;
use payfault::wire::{sign, verify, MacKey, Message, Mti, WireMessage};
use proptest::prelude::*;

const LINK_KEY: MacKey = MacKey(*b"bank-link-key-01");
const DAY_MS: u64 = 24 * 3600 * 1000;

const EUR_CARD: &str = "4000000000000001";
const FROZEN_CARD: &str = "4000000000000002";
const INACTIVE_CARD: &str = "4000000000000003";
const BLOCKED_CARD: &str = "4000000000000004";
const EXPIRED_CARD: &str = "4000000000000005";
const JPY_CARD: &str = "4000000000000006";
const BHD_CARD: &str = "4000000000000007";
const POOR_CARD: &str = "4000000000000008";
const SHOP: &str = "SHOP00000000001";
const POOR_SHOP: &str = "SHOP00000000002";
const BLACK_SHOP: &str = "BLACK0000000001";
const TERMINAL: &str = "TERM0001";
const VALID_EXPIRY: Expiry = Expiry { year: 28, month: 12 };

fn pan(text: &str) -> Pan {
    Pan::new(text).unwrap()
}

fn merchant(text: &str) -> MerchantId {
    MerchantId::new(text).unwrap()
}

fn money(minor: u64, currency: Currency) -> Money {
    Money::new(minor, currency).unwrap()
}

fn amount(minor: u64) -> Option<Amount> {
    Amount::new(minor)
}

fn card(number: &str, currency: Currency, balance: u64, state: CardState) -> CardholderAccount {
    CardholderAccount {
        pan: pan(number),
        currency,
        balance: Amount::new(balance).unwrap(),
        state,
        expiry: VALID_EXPIRY,
        transaction_limit: None,
        daily_limit: None,
        daily_count_limit: None,
    }
}

fn shop(id: &str, balance: u64, state: MerchantState) -> MerchantAccount {
    MerchantAccount {
        id: merchant(id),
        currency: Currency::EUR,
        balance: Amount::new(balance).unwrap(),
        state,
        refund_cap: None,
        refund_window_ms: None,
        daily_refund_limit: None,
    }
}

/// One bank with cards in every state, EUR, JPY and BHD, three merchants.
fn default_config(bugs: Bugs) -> BankConfig {
    let mut eur = card(EUR_CARD, Currency::EUR, 1_000_00, CardState::Active);
    eur.transaction_limit = amount(500_00);
    eur.daily_limit = amount(800_00);
    eur.daily_count_limit = Some(5);
    let mut expired = card(EXPIRED_CARD, Currency::EUR, 1_000_00, CardState::Active);
    expired.expiry = Expiry { year: 25, month: 10 };
    let mut main_shop = shop(SHOP, 1_000_00, MerchantState::Active);
    main_shop.refund_cap = amount(300_00);
    main_shop.refund_window_ms = Some(30 * DAY_MS);
    main_shop.daily_refund_limit = amount(400_00);
    BankConfig {
        id: BankId("bank-a".into()),
        calendar: Calendar::default(),
        link_key: LINK_KEY,
        cardholders: vec![
            eur,
            card(FROZEN_CARD, Currency::EUR, 1_000_00, CardState::Frozen),
            card(INACTIVE_CARD, Currency::EUR, 1_000_00, CardState::NotActivated),
            card(BLOCKED_CARD, Currency::EUR, 1_000_00, CardState::Blocked),
            expired,
            card(JPY_CARD, Currency::JPY, 100_000, CardState::Active),
            card(BHD_CARD, Currency::BHD, 100_000, CardState::Active),
            card(POOR_CARD, Currency::EUR, 10_00, CardState::Active),
        ],
        merchants: vec![
            main_shop,
            shop(POOR_SHOP, 5_00, MerchantState::Active),
            shop(BLACK_SHOP, 0, MerchantState::Blacklisted),
        ],
        maintenance: vec![(Millis(10 * DAY_MS), Millis(10 * DAY_MS + 3_600_000))],
        bugs,
    }
}

struct Fixture {
    config: BankConfig,
    bank: Bank,
    journal: Vec<BankRecord>,
    now: Millis,
    next_stan: u32,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_bugs(Bugs::none())
    }

    fn with_bugs(bugs: Bugs) -> Fixture {
        let config = default_config(bugs);
        Fixture {
            bank: Bank::boot(config.clone(), Vec::new()),
            config,
            journal: Vec::new(),
            now: Millis(1_000),
            next_stan: 1,
        }
    }

    fn trace(&mut self) -> Trace {
        let calendar = Calendar::default();
        let trace = Trace {
            terminal: TerminalId::new(TERMINAL).unwrap(),
            stan: Stan::new(self.next_stan).unwrap(),
            local_time: calendar.local_time(self.now),
            local_date: calendar.local_date(self.now),
            transmitted: calendar.transmission_time(self.now),
        };
        self.next_stan += 1;
        trace
    }

    fn request(
        &mut self,
        processing: ProcessingCode,
        card: &str,
        shop: &str,
        amount: Money,
    ) -> FinancialRequest {
        let trace = self.trace();
        FinancialRequest {
            repeat: false,
            processing,
            pan: pan(card),
            expiry: VALID_EXPIRY,
            amount,
            rrn: Rrn::new(&format!("RRN{:09}", trace.stan.value())).unwrap(),
            trace,
            acquirer: InstitutionId::new("123456").unwrap(),
            merchant: merchant(shop),
            batch: BatchNumber::FIRST,
            original: None,
        }
    }

    fn sale(&mut self, card: &str, minor: u64, currency: Currency) -> FinancialRequest {
        self.request(ProcessingCode::Sale, card, SHOP, money(minor, currency))
    }

    fn naming(
        &mut self,
        processing: ProcessingCode,
        original: &FinancialRequest,
        minor: u64,
    ) -> FinancialRequest {
        let amount = money(minor, original.amount.currency);
        let mut request = self.request(
            processing,
            original.pan.as_str(),
            original.merchant.as_str(),
            amount,
        );
        request.original = Some(original_data(original));
        request
    }

    fn refund(&mut self, original: &FinancialRequest, minor: u64) -> FinancialRequest {
        self.naming(ProcessingCode::Refund, original, minor)
    }

    fn void(&mut self, original: &FinancialRequest) -> FinancialRequest {
        self.naming(
            ProcessingCode::Void,
            original,
            original.amount.amount.minor_units(),
        )
    }

    fn close(&mut self, shop: &str, currency: Currency, totals: BatchTotals) -> BatchClose {
        BatchClose {
            repeat: false,
            trace: self.trace(),
            merchant: merchant(shop),
            batch: BatchNumber::FIRST,
            currency,
            totals,
        }
    }

    /// Deliver a signed message; keep appended records as the journal.
    fn deliver(&mut self, message: &WireMessage) -> Vec<BankEffect> {
        let mut raw = message.to_message();
        let bytes = sign(&mut raw, &LINK_KEY).unwrap();
        self.deliver_bytes(&bytes)
    }

    fn deliver_bytes(&mut self, bytes: &[u8]) -> Vec<BankEffect> {
        let effects = self.bank.on_message(self.now, &Peer::Switch, bytes);
        self.keep(&effects);
        effects
    }

    fn keep(&mut self, effects: &[BankEffect]) {
        for effect in effects {
            if let Effect::Append(record) = effect {
                self.journal.push(record.clone());
            }
        }
    }

    fn command(&mut self, command: BankCommand) -> Vec<BankEffect> {
        let effects = self.bank.on_command(self.now, command);
        self.keep(&effects);
        effects
    }

    /// Deliver a financial request and return its 0210.
    fn financial(&mut self, request: &FinancialRequest) -> FinancialResponse {
        match reply(&self.deliver(&WireMessage::FinancialRequest(request.clone()))) {
            WireMessage::FinancialResponse(response) => response,
            other => panic!("expected 0210, got {other:?}"),
        }
    }

    fn code(&mut self, request: &FinancialRequest) -> ResponseCode {
        self.financial(request).response
    }

    fn reverse(&mut self, original: &FinancialRequest, repeat: bool) -> ReversalResponse {
        match reply(&self.deliver(&WireMessage::ReversalAdvice(reversal_of(original, repeat)))) {
            WireMessage::ReversalResponse(response) => response,
            other => panic!("expected 0430, got {other:?}"),
        }
    }

    fn settle(&mut self, close: &BatchClose) -> BatchCloseResponse {
        match reply(&self.deliver(&WireMessage::BatchClose(close.clone()))) {
            WireMessage::BatchCloseResponse(response) => response,
            other => panic!("expected 0510, got {other:?}"),
        }
    }

    fn balance(&self, account: AccountId, currency: Currency) -> i64 {
        self.bank.ledger().balance(&account, currency)
    }

    fn card_balance(&self, card: &str) -> i64 {
        let currency = self
            .config
            .cardholders
            .iter()
            .find(|c| c.pan.as_str() == card)
            .unwrap()
            .currency;
        self.balance(AccountId::Cardholder(pan(card)), currency)
    }

    fn shop_balance(&self, shop: &str) -> i64 {
        self.balance(AccountId::Merchant(merchant(shop)), Currency::EUR)
    }

    fn clearing(&self, currency: Currency) -> i64 {
        self.balance(AccountId::Clearing(currency), currency)
    }

    fn postings(&self) -> usize {
        self.bank.ledger().postings().len()
    }
}

fn original_data(original: &FinancialRequest) -> OriginalData {
    OriginalData {
        mti: Mti::parse("0200").unwrap(),
        stan: original.trace.stan,
        local_date_time: TransmissionTime {
            date: original.trace.local_date,
            time: original.trace.local_time,
        },
        acquirer: original.acquirer.clone(),
    }
}

fn reversal_of(original: &FinancialRequest, repeat: bool) -> ReversalAdvice {
    ReversalAdvice {
        repeat,
        processing: original.processing,
        pan: original.pan.clone(),
        amount: original.amount,
        trace: original.trace.clone(),
        acquirer: original.acquirer.clone(),
        rrn: original.rrn.clone(),
        merchant: original.merchant.clone(),
        reason: ResponseCode::ResponseTooLate,
        original: original_data(original),
    }
}

fn sent(effects: &[BankEffect]) -> Vec<Vec<u8>> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Send { to, bytes } => {
                assert_eq!(to, &Peer::Switch);
                Some(bytes.clone())
            }
            _ => None,
        })
        .collect()
}

fn raw_reply(effects: &[BankEffect]) -> Message {
    let sent = sent(effects);
    assert_eq!(sent.len(), 1, "exactly one reply expected: {effects:?}");
    verify(&sent[0], &LINK_KEY).expect("replies are signed with the link key")
}

fn reply(effects: &[BankEffect]) -> WireMessage {
    WireMessage::from_message(&raw_reply(effects)).unwrap()
}

fn eur_totals(sales: &[u64], refunds: &[u64]) -> BatchTotals {
    BatchTotals {
        debit_count: sales.len() as u64,
        debit_amount: sales.iter().sum(),
        credit_count: refunds.len() as u64,
        credit_amount: refunds.iter().sum(),
    }
}

fn repeat(request: &FinancialRequest) -> FinancialRequest {
    FinancialRequest {
        repeat: true,
        ..request.clone()
    }
}

// ---------------------------------------------------------------- sales

#[test]
fn approved_sale_moves_money_from_card_to_clearing_with_an_approval_code() {
    let mut fx = Fixture::new();
    let sale = fx.sale(EUR_CARD, 25_00, Currency::EUR);
    let response = fx.financial(&sale);
    assert_eq!(response.response, ResponseCode::Approved);
    assert_eq!(response.approval, Some(approval_code(&sale.trace.key())));
    assert_eq!(
        (response.trace, response.rrn, response.processing, response.amount),
        (sale.trace.clone(), sale.rrn.clone(), sale.processing, sale.amount)
    );
    assert_eq!(fx.card_balance(EUR_CARD), 975_00);
    assert_eq!(fx.clearing(Currency::EUR), 25_00);
    assert_eq!(fx.postings(), 1);
}

#[test]
fn approval_codes_are_deterministic_and_differ_by_key() {
    let mut fx = Fixture::new();
    let first = fx.sale(EUR_CARD, 1, Currency::EUR).trace.key();
    let second = fx.sale(EUR_CARD, 1, Currency::EUR).trace.key();
    assert_eq!(approval_code(&first), approval_code(&first));
    assert_ne!(approval_code(&first), approval_code(&second));
}

fn assert_sale_declined(fx: &mut Fixture, request: &FinancialRequest, code: ResponseCode) {
    let before = fx.bank.ledger().clone();
    let response = fx.financial(request);
    assert_eq!(response.response, code, "{request:?}");
    assert_eq!(response.approval, None);
    assert_eq!(
        fx.bank.ledger().postings(),
        before.postings(),
        "a decline posts nothing"
    );
}

#[test]
fn sale_card_checks_14_54_57_62() {
    let mut fx = Fixture::new();
    let unknown = fx.sale("4999999999999999", 1_00, Currency::EUR);
    assert_sale_declined(&mut fx, &unknown, ResponseCode::InvalidCard);
    let expired = fx.sale(EXPIRED_CARD, 1_00, Currency::EUR);
    assert_sale_declined(&mut fx, &expired, ResponseCode::ExpiredCard);
    let mut wrong_expiry = fx.sale(EUR_CARD, 1_00, Currency::EUR);
    wrong_expiry.expiry = Expiry { year: 29, month: 1 };
    assert_sale_declined(&mut fx, &wrong_expiry, ResponseCode::ExpiredCard);
    let frozen = fx.sale(FROZEN_CARD, 1_00, Currency::EUR);
    assert_sale_declined(&mut fx, &frozen, ResponseCode::NotPermittedToCardholder);
    let inactive = fx.sale(INACTIVE_CARD, 1_00, Currency::EUR);
    assert_sale_declined(&mut fx, &inactive, ResponseCode::NotPermittedToCardholder);
    let blocked = fx.sale(BLOCKED_CARD, 1_00, Currency::EUR);
    assert_sale_declined(&mut fx, &blocked, ResponseCode::RestrictedCard);
}

#[test]
fn sale_at_blacklisted_or_unknown_merchant_is_58() {
    let mut fx = Fixture::new();
    let black = fx.request(
        ProcessingCode::Sale,
        EUR_CARD,
        BLACK_SHOP,
        money(1_00, Currency::EUR),
    );
    assert_sale_declined(&mut fx, &black, ResponseCode::NotPermittedToTerminal);
    let unknown = fx.request(
        ProcessingCode::Sale,
        EUR_CARD,
        "NOSUCHSHOP00001",
        money(1_00, Currency::EUR),
    );
    assert_sale_declined(&mut fx, &unknown, ResponseCode::NotPermittedToTerminal);
}

#[test]
fn sale_zero_or_foreign_currency_is_13() {
    let mut fx = Fixture::new();
    let zero = fx.sale(EUR_CARD, 0, Currency::EUR);
    assert_sale_declined(&mut fx, &zero, ResponseCode::InvalidAmount);
    let yen_on_euro_card = fx.sale(EUR_CARD, 1_00, Currency::JPY);
    assert_sale_declined(&mut fx, &yen_on_euro_card, ResponseCode::InvalidAmount);
    let euro_on_dinar_card = fx.sale(BHD_CARD, 1_000, Currency::EUR);
    assert_sale_declined(&mut fx, &euro_on_dinar_card, ResponseCode::InvalidAmount);
    // Same minor units, right currency: approved (JPY exponent 0, BHD 3).
    let yen = fx.sale(JPY_CARD, 1_500, Currency::JPY);
    assert_eq!(fx.code(&yen), ResponseCode::Approved);
    let dinar = fx.sale(BHD_CARD, 1_250, Currency::BHD);
    assert_eq!(fx.code(&dinar), ResponseCode::Approved);
    assert_eq!(fx.card_balance(BHD_CARD), 98_750);
    assert_eq!(fx.clearing(Currency::JPY), 1_500);
}

#[test]
fn sale_over_transaction_or_daily_limit_is_61() {
    let mut fx = Fixture::new();
    let over = fx.sale(EUR_CARD, 500_01, Currency::EUR);
    assert_sale_declined(&mut fx, &over, ResponseCode::AmountLimit);
    let at_limit = fx.sale(EUR_CARD, 500_00, Currency::EUR);
    assert_eq!(fx.code(&at_limit), ResponseCode::Approved);
    let over_daily = fx.sale(EUR_CARD, 300_01, Currency::EUR);
    assert_sale_declined(&mut fx, &over_daily, ResponseCode::AmountLimit);
    let up_to_daily = fx.sale(EUR_CARD, 300_00, Currency::EUR);
    assert_eq!(fx.code(&up_to_daily), ResponseCode::Approved);
    // The next day the daily limit starts again.
    fx.now = fx.now.plus(DAY_MS);
    let next_day = fx.sale(EUR_CARD, 100_00, Currency::EUR);
    assert_eq!(fx.code(&next_day), ResponseCode::Approved);
}

#[test]
fn sale_over_daily_count_is_65() {
    let mut fx = Fixture::new();
    for _ in 0..5 {
        let sale = fx.sale(EUR_CARD, 1_00, Currency::EUR);
        assert_eq!(fx.code(&sale), ResponseCode::Approved);
    }
    let sixth = fx.sale(EUR_CARD, 1_00, Currency::EUR);
    assert_sale_declined(&mut fx, &sixth, ResponseCode::FrequencyLimit);
}

#[test]
fn maintenance_window_and_command_answer_91_and_a_later_request_works() {
    let mut fx = Fixture::new();
    fx.now = Millis(10 * DAY_MS + 1_000);
    let during = fx.sale(EUR_CARD, 1_00, Currency::EUR);
    assert_sale_declined(&mut fx, &during, ResponseCode::IssuerUnavailable);
    fx.now = Millis(10 * DAY_MS + 3_600_000);
    let after = fx.sale(EUR_CARD, 1_00, Currency::EUR);
    assert_eq!(fx.code(&after), ResponseCode::Approved);
    fx.command(BankCommand::BeginMaintenance);
    let refund = fx.refund(&after, 50);
    assert_sale_declined(&mut fx, &refund, ResponseCode::IssuerUnavailable);
    let balance = fx.request(ProcessingCode::Balance, EUR_CARD, SHOP, money(0, Currency::EUR));
    assert_sale_declined(&mut fx, &balance, ResponseCode::IssuerUnavailable);
    fx.command(BankCommand::EndMaintenance);
    let retry = fx.refund(&after, 50);
    assert_eq!(fx.code(&retry), ResponseCode::Approved);
}

#[test]
fn sale_with_balance_short_is_51() {
    let mut fx = Fixture::new();
    let too_much = fx.sale(POOR_CARD, 10_01, Currency::EUR);
    assert_sale_declined(&mut fx, &too_much, ResponseCode::InsufficientFunds);
    let exact = fx.sale(POOR_CARD, 10_00, Currency::EUR);
    assert_eq!(fx.code(&exact), ResponseCode::Approved);
    assert_eq!(fx.card_balance(POOR_CARD), 0);
}

#[test]
fn sale_checks_run_in_the_documented_order() {
    let mut fx = Fixture::new();
    // Frozen card at a blacklisted merchant with a zero amount: 57 first.
    let frozen = fx.request(
        ProcessingCode::Sale,
        FROZEN_CARD,
        BLACK_SHOP,
        money(0, Currency::EUR),
    );
    assert_eq!(fx.code(&frozen), ResponseCode::NotPermittedToCardholder);
    // Blacklisted merchant and zero amount: 58 before 13.
    let black = fx.request(
        ProcessingCode::Sale,
        EUR_CARD,
        BLACK_SHOP,
        money(0, Currency::EUR),
    );
    assert_eq!(fx.code(&black), ResponseCode::NotPermittedToTerminal);
    // Zero amount in the wrong currency on a poor card: 13.
    let limit = fx.sale(POOR_CARD, 0, Currency::JPY);
    assert_eq!(fx.code(&limit), ResponseCode::InvalidAmount);
    // Over the limit and short of funds: 61 before 51.
    let over = fx.sale(EUR_CARD, 2_000_00, Currency::EUR);
    assert_eq!(fx.code(&over), ResponseCode::AmountLimit);
    // In maintenance and short of funds: 91 before 51.
    fx.command(BankCommand::BeginMaintenance);
    let short = fx.sale(POOR_CARD, 20_00, Currency::EUR);
    assert_eq!(fx.code(&short), ResponseCode::IssuerUnavailable);
}

#[test]
fn balance_inquiry_answers_de54_and_posts_nothing() {
    let mut fx = Fixture::new();
    let sale = fx.sale(EUR_CARD, 12_34, Currency::EUR);
    fx.code(&sale);
    let inquiry = fx.request(ProcessingCode::Balance, EUR_CARD, SHOP, money(0, Currency::EUR));
    let response = fx.financial(&inquiry);
    assert_eq!(response.response, ResponseCode::Approved);
    assert_eq!(response.balance, Some(money(987_66, Currency::EUR)));
    assert_eq!(fx.postings(), 1);
    let frozen = fx.request(
        ProcessingCode::Balance,
        FROZEN_CARD,
        SHOP,
        money(0, Currency::EUR),
    );
    let response = fx.financial(&frozen);
    assert_eq!(
        (response.response, response.balance),
        (ResponseCode::NotPermittedToCardholder, None)
    );
}

// ---------------------------------------------------------------- refunds

fn approved_sale(fx: &mut Fixture, minor: u64) -> FinancialRequest {
    let sale = fx.sale(EUR_CARD, minor, Currency::EUR);
    assert_eq!(fx.code(&sale), ResponseCode::Approved);
    sale
}

#[test]
fn refund_moves_money_from_merchant_to_cardholder() {
    let mut fx = Fixture::new();
    let sale = approved_sale(&mut fx, 100_00);
    let refund = fx.refund(&sale, 40_00);
    assert_eq!(fx.code(&refund), ResponseCode::Approved);
    assert_eq!(fx.card_balance(EUR_CARD), 940_00);
    assert_eq!(fx.shop_balance(SHOP), 960_00);
    assert_eq!(fx.clearing(Currency::EUR), 100_00);
}

#[test]
fn refund_of_unknown_declined_or_other_original_is_12() {
    let mut fx = Fixture::new();
    let never_sent = fx.sale(EUR_CARD, 10_00, Currency::EUR);
    let refund = fx.refund(&never_sent, 1_00);
    assert_sale_declined(&mut fx, &refund, ResponseCode::InvalidTransaction);
    let declined = fx.sale(EUR_CARD, 0, Currency::EUR);
    fx.code(&declined);
    let refund = fx.refund(&declined, 1_00);
    assert_sale_declined(&mut fx, &refund, ResponseCode::InvalidTransaction);
    let sale = approved_sale(&mut fx, 10_00);
    let refund_of_refund = fx.refund(&sale, 1_00);
    assert_eq!(fx.code(&refund_of_refund), ResponseCode::Approved);
    let nested = fx.refund(&refund_of_refund, 1_00);
    assert_sale_declined(&mut fx, &nested, ResponseCode::InvalidTransaction);
    let mut other_card = fx.refund(&sale, 1_00);
    other_card.pan = pan(POOR_CARD);
    assert_sale_declined(&mut fx, &other_card, ResponseCode::InvalidTransaction);
    let mut no_original = fx.refund(&sale, 1_00);
    no_original.original = None;
    assert_sale_declined(&mut fx, &no_original, ResponseCode::InvalidTransaction);
}

#[test]
fn refund_outside_the_window_is_12() {
    let mut fx = Fixture::new();
    let sale = approved_sale(&mut fx, 10_00);
    fx.now = fx.now.plus(30 * DAY_MS);
    let inside = fx.refund(&sale, 1_00);
    assert_eq!(fx.code(&inside), ResponseCode::Approved);
    fx.now = fx.now.plus(1);
    let outside = fx.refund(&sale, 1_00);
    assert_sale_declined(&mut fx, &outside, ResponseCode::InvalidTransaction);
}

#[test]
fn refund_zero_currency_cap_or_remainder_is_13() {
    let mut fx = Fixture::new();
    let sale = approved_sale(&mut fx, 400_00);
    let zero = fx.refund(&sale, 0);
    assert_sale_declined(&mut fx, &zero, ResponseCode::InvalidAmount);
    let mut yen = fx.refund(&sale, 1_00);
    yen.amount = money(1_00, Currency::JPY);
    assert_sale_declined(&mut fx, &yen, ResponseCode::InvalidAmount);
    let mut dinar = fx.refund(&sale, 1_000);
    dinar.amount = money(1_000, Currency::BHD);
    assert_sale_declined(&mut fx, &dinar, ResponseCode::InvalidAmount);
    let over_cap = fx.refund(&sale, 300_01);
    assert_sale_declined(&mut fx, &over_cap, ResponseCode::InvalidAmount);
    let at_cap = fx.refund(&sale, 300_00);
    assert_eq!(fx.code(&at_cap), ResponseCode::Approved);
    let over_remainder = fx.refund(&sale, 100_01);
    assert_sale_declined(&mut fx, &over_remainder, ResponseCode::InvalidAmount);
}

#[test]
fn two_partial_refunds_then_one_over_the_remainder_is_13() {
    let mut fx = Fixture::new();
    let sale = approved_sale(&mut fx, 100_00);
    let first = fx.refund(&sale, 30_00);
    assert_eq!(fx.code(&first), ResponseCode::Approved);
    let second = fx.refund(&sale, 50_00);
    assert_eq!(fx.code(&second), ResponseCode::Approved);
    let third = fx.refund(&sale, 20_01);
    assert_sale_declined(&mut fx, &third, ResponseCode::InvalidAmount);
    let last = fx.refund(&sale, 20_00);
    assert_eq!(fx.code(&last), ResponseCode::Approved);
    assert_eq!(fx.card_balance(EUR_CARD), 1_000_00);
    assert_eq!(fx.shop_balance(SHOP), 900_00);
}

#[test]
fn refund_at_frozen_or_blacklisted_merchant_is_58() {
    let mut fx = Fixture::new();
    let sale = approved_sale(&mut fx, 10_00);
    fx.command(BankCommand::SetMerchantState {
        merchant: merchant(SHOP),
        state: MerchantState::Frozen,
    });
    let frozen = fx.refund(&sale, 1_00);
    assert_sale_declined(&mut fx, &frozen, ResponseCode::NotPermittedToTerminal);
    fx.command(BankCommand::SetMerchantState {
        merchant: merchant(SHOP),
        state: MerchantState::Blacklisted,
    });
    let black = fx.refund(&sale, 1_00);
    assert_sale_declined(&mut fx, &black, ResponseCode::NotPermittedToTerminal);
    fx.command(BankCommand::SetMerchantState {
        merchant: merchant(SHOP),
        state: MerchantState::Active,
    });
    let active = fx.refund(&sale, 1_00);
    assert_eq!(fx.code(&active), ResponseCode::Approved);
}

#[test]
fn refund_over_the_daily_refund_limit_is_61() {
    let mut fx = Fixture::new();
    let first = approved_sale(&mut fx, 300_00);
    let second = approved_sale(&mut fx, 300_00);
    let refund = fx.refund(&first, 300_00);
    assert_eq!(fx.code(&refund), ResponseCode::Approved);
    let over = fx.refund(&second, 100_01);
    assert_sale_declined(&mut fx, &over, ResponseCode::AmountLimit);
    let up_to = fx.refund(&second, 100_00);
    assert_eq!(fx.code(&up_to), ResponseCode::Approved);
}

#[test]
fn refund_with_merchant_balance_short_is_51_and_moves_nothing() {
    let mut fx = Fixture::new();
    let sale = fx.request(
        ProcessingCode::Sale,
        EUR_CARD,
        POOR_SHOP,
        money(20_00, Currency::EUR),
    );
    assert_eq!(fx.code(&sale), ResponseCode::Approved);
    let refund = fx.refund(&sale, 5_01);
    assert_sale_declined(&mut fx, &refund, ResponseCode::InsufficientFunds);
    assert_eq!(fx.shop_balance(POOR_SHOP), 5_00);
    let affordable = fx.refund(&sale, 5_00);
    assert_eq!(fx.code(&affordable), ResponseCode::Approved);
}

// ---------------------------------------------------------------- voids

#[test]
fn void_returns_the_sale_and_excludes_it_from_settlement() {
    let mut fx = Fixture::new();
    let kept = approved_sale(&mut fx, 30_00);
    let voided = approved_sale(&mut fx, 70_00);
    let void = fx.void(&voided);
    assert_eq!(fx.code(&void), ResponseCode::Approved);
    assert_eq!(fx.card_balance(EUR_CARD), 970_00);
    assert_eq!(fx.clearing(Currency::EUR), 30_00);
    let again = fx.void(&voided);
    assert_sale_declined(&mut fx, &again, ResponseCode::InvalidTransaction);
    let wrong_totals = fx.close(SHOP, Currency::EUR, eur_totals(&[30_00, 70_00], &[]));
    assert_eq!(fx.settle(&wrong_totals).response, ResponseCode::ReconcileError);
    let close = fx.close(
        SHOP,
        Currency::EUR,
        eur_totals(&[kept.amount.amount.minor_units()], &[]),
    );
    assert_eq!(fx.settle(&close).response, ResponseCode::Approved);
    assert_eq!(fx.shop_balance(SHOP), 1_030_00);
    assert_eq!(fx.clearing(Currency::EUR), 0);
}

#[test]
fn void_of_unknown_refunded_or_settled_sale_is_12_and_wrong_amount_13() {
    let mut fx = Fixture::new();
    let never_sent = fx.sale(EUR_CARD, 10_00, Currency::EUR);
    let void = fx.void(&never_sent);
    assert_sale_declined(&mut fx, &void, ResponseCode::InvalidTransaction);
    let refunded = approved_sale(&mut fx, 10_00);
    let refund = fx.refund(&refunded, 1_00);
    fx.code(&refund);
    let void = fx.void(&refunded);
    assert_sale_declined(&mut fx, &void, ResponseCode::InvalidTransaction);
    let sale = approved_sale(&mut fx, 20_00);
    let partial = fx.naming(ProcessingCode::Void, &sale, 19_99);
    assert_sale_declined(&mut fx, &partial, ResponseCode::InvalidAmount);
    let close = fx.close(SHOP, Currency::EUR, eur_totals(&[10_00, 20_00], &[1_00]));
    assert_eq!(fx.settle(&close).response, ResponseCode::Approved);
    let after_settlement = fx.void(&sale);
    assert_sale_declined(&mut fx, &after_settlement, ResponseCode::InvalidTransaction);
}

// ---------------------------------------------------------------- idempotency

#[test]
fn a_copy_and_a_repeat_get_the_stored_answer_and_post_nothing() {
    let mut fx = Fixture::new();
    let sale = fx.sale(EUR_CARD, 25_00, Currency::EUR);
    let first = fx.deliver(&WireMessage::FinancialRequest(sale.clone()));
    let copy = fx.deliver(&WireMessage::FinancialRequest(sale.clone()));
    let mut retried = repeat(&sale);
    retried.trace.transmitted = Calendar::default().transmission_time(Millis(60_000));
    let repeated = fx.deliver(&WireMessage::FinancialRequest(retried));
    assert_eq!(sent(&first), sent(&copy));
    assert_eq!(sent(&first), sent(&repeated));
    assert_eq!(raw_reply(&first).get(38), raw_reply(&repeated).get(38));
    assert_eq!(fx.postings(), 1);
    assert_eq!(fx.card_balance(EUR_CARD), 975_00);
    assert!(
        copy.iter().all(|effect| matches!(effect, Effect::Send { .. })),
        "no record for a copy"
    );
    // A declined request's repeat keeps its decline.
    let declined = fx.sale(FROZEN_CARD, 1_00, Currency::EUR);
    assert_eq!(fx.code(&declined), ResponseCode::NotPermittedToCardholder);
    fx.command(BankCommand::SetCardState {
        pan: pan(FROZEN_CARD),
        state: CardState::Active,
    });
    assert_eq!(
        fx.code(&repeat(&declined)),
        ResponseCode::NotPermittedToCardholder
    );
}

#[test]
fn a_retried_refund_is_applied_once_and_never_answered_13() {
    let mut fx = Fixture::new();
    let sale = approved_sale(&mut fx, 100_00);
    let refund = fx.refund(&sale, 100_00);
    let first = fx.financial(&refund);
    let retry = fx.financial(&repeat(&refund));
    assert_eq!(first, retry);
    assert_eq!(retry.response, ResponseCode::Approved);
    assert_eq!(fx.card_balance(EUR_CARD), 1_000_00);
}

#[test]
fn effects_journal_and_sync_before_the_reply() {
    let mut fx = Fixture::new();
    let sale = fx.sale(EUR_CARD, 1_00, Currency::EUR);
    let effects = fx.deliver(&WireMessage::FinancialRequest(sale.clone()));
    assert!(matches!(effects[0], Effect::Append(BankRecord::Processed(_))));
    assert_eq!(
        effects[1],
        Effect::CrashPoint(payfault::node::CrashPoint("bank.post.before_sync"))
    );
    assert_eq!(effects[2], Effect::Sync);
    assert_eq!(
        effects[3],
        Effect::CrashPoint(payfault::node::CrashPoint("bank.post.after_sync_before_reply"))
    );
    assert!(matches!(effects[4], Effect::Send { .. }));
    assert_eq!(effects.len(), 5);
    let reversal = fx.deliver(&WireMessage::ReversalAdvice(reversal_of(&sale, false)));
    assert_eq!(
        reversal[3],
        Effect::CrashPoint(payfault::node::CrashPoint(
            "bank.reversal.after_sync_before_reply"
        ))
    );
    let close = fx.close(SHOP, Currency::EUR, eur_totals(&[], &[]));
    let settle = fx.deliver(&WireMessage::BatchClose(close));
    assert_eq!(
        settle[3],
        Effect::CrashPoint(payfault::node::CrashPoint("bank.settle.after_sync_before_reply"))
    );
    for effect in reversal.iter().chain(&settle).chain(&effects) {
        if let Effect::CrashPoint(point) = effect {
            assert!(CRASH_POINTS.contains(&point.0), "{point:?} not listed");
        }
    }
}

// ---------------------------------------------------------------- reversals

#[test]
fn reversal_undoes_its_original_exactly_once() {
    let mut fx = Fixture::new();
    let sale = approved_sale(&mut fx, 40_00);
    let ack = fx.reverse(&sale, false);
    assert_eq!(
        (ack.response, ack.rrn.clone(), ack.amount),
        (ResponseCode::Approved, sale.rrn.clone(), sale.amount)
    );
    assert_eq!(fx.card_balance(EUR_CARD), 1_000_00);
    let copy = fx.reverse(&sale, true);
    assert_eq!(copy.response, ResponseCode::Approved);
    fx.reverse(&sale, false);
    assert_eq!(fx.card_balance(EUR_CARD), 1_000_00);
    assert_eq!(fx.clearing(Currency::EUR), 0);
    assert_eq!(fx.postings(), 2);
    // A reversed sale can be neither refunded, voided nor settled.
    let refund = fx.refund(&sale, 1_00);
    assert_eq!(fx.code(&refund), ResponseCode::InvalidTransaction);
    let void = fx.void(&sale);
    assert_eq!(fx.code(&void), ResponseCode::InvalidTransaction);
    let close = fx.close(SHOP, Currency::EUR, eur_totals(&[40_00], &[]));
    assert_eq!(fx.settle(&close).response, ResponseCode::ReconcileError);
}

#[test]
fn reversal_of_a_declined_original_moves_nothing() {
    let mut fx = Fixture::new();
    let declined = fx.sale(POOR_CARD, 50_00, Currency::EUR);
    assert_eq!(fx.code(&declined), ResponseCode::InsufficientFunds);
    assert_eq!(fx.reverse(&declined, false).response, ResponseCode::Approved);
    assert_eq!(fx.postings(), 0);
    assert_eq!(fx.card_balance(POOR_CARD), 10_00);
}

#[test]
fn reversal_of_refund_and_void_restores_the_sale() {
    let mut fx = Fixture::new();
    let sale = approved_sale(&mut fx, 100_00);
    let refund = fx.refund(&sale, 100_00);
    fx.code(&refund);
    fx.reverse(&refund, false);
    assert_eq!(
        (fx.card_balance(EUR_CARD), fx.shop_balance(SHOP)),
        (900_00, 1_000_00)
    );
    let again = fx.refund(&sale, 100_00);
    assert_eq!(
        fx.code(&again),
        ResponseCode::Approved,
        "the reversed refund no longer counts"
    );
    let other = approved_sale(&mut fx, 10_00);
    let void = fx.void(&other);
    fx.code(&void);
    fx.reverse(&void, false);
    assert_eq!(fx.clearing(Currency::EUR), 110_00);
    let close = fx.close(SHOP, Currency::EUR, eur_totals(&[100_00, 10_00], &[100_00]));
    assert_eq!(fx.settle(&close).response, ResponseCode::Approved);
}

#[test]
fn reversal_of_a_settled_sale_is_undone_from_the_merchant() {
    let mut fx = Fixture::new();
    let sale = approved_sale(&mut fx, 60_00);
    let close = fx.close(SHOP, Currency::EUR, eur_totals(&[60_00], &[]));
    assert_eq!(fx.settle(&close).response, ResponseCode::Approved);
    assert_eq!(fx.shop_balance(SHOP), 1_060_00);
    fx.reverse(&sale, false);
    assert_eq!(
        (
            fx.card_balance(EUR_CARD),
            fx.shop_balance(SHOP),
            fx.clearing(Currency::EUR)
        ),
        (1_000_00, 1_000_00, 0)
    );
}

#[test]
fn reversal_of_a_partly_refunded_sale_gives_back_only_the_rest() {
    let mut fx = Fixture::new();
    let sale = approved_sale(&mut fx, 100_00);
    let refund = fx.refund(&sale, 30_00);
    fx.code(&refund);
    fx.reverse(&sale, false);
    assert_eq!(
        (
            fx.card_balance(EUR_CARD),
            fx.shop_balance(SHOP),
            fx.clearing(Currency::EUR)
        ),
        (1_000_00, 1_000_00, 0)
    );
    let voided = approved_sale(&mut fx, 10_00);
    let void = fx.void(&voided);
    fx.code(&void);
    fx.reverse(&voided, false);
    assert_eq!(
        (fx.card_balance(EUR_CARD), fx.clearing(Currency::EUR)),
        (1_000_00, 0)
    );
}

#[test]
fn reversal_before_its_original_leaves_a_tombstone_and_the_late_original_nets_zero() {
    let mut fx = Fixture::new();
    let sale = fx.sale(EUR_CARD, 40_00, Currency::EUR);
    assert_eq!(fx.reverse(&sale, false).response, ResponseCode::Approved);
    assert_eq!(fx.bank.tombstones().count(), 1);
    assert_eq!(fx.reverse(&sale, true).response, ResponseCode::Approved);
    let late = fx.financial(&sale);
    assert_eq!(
        (late.response, late.approval),
        (ResponseCode::InvalidTransaction, None)
    );
    assert_eq!(fx.postings(), 0);
    assert_eq!(fx.card_balance(EUR_CARD), 1_000_00);
    assert_eq!(fx.reverse(&sale, true).response, ResponseCode::Approved);
    assert_eq!(fx.postings(), 0);
}

// ---------------------------------------------------------------- settlement

#[test]
fn settlement_pays_the_merchant_once_and_a_repeat_gets_the_stored_answer() {
    let mut fx = Fixture::new();
    approved_sale(&mut fx, 30_00);
    let sale = approved_sale(&mut fx, 50_00);
    let refund = fx.refund(&sale, 20_00);
    fx.code(&refund);
    let close = fx.close(SHOP, Currency::EUR, eur_totals(&[30_00, 50_00], &[20_00]));
    let answer = fx.settle(&close);
    assert_eq!(
        (answer.response, answer.batch, answer.trace.clone()),
        (ResponseCode::Approved, BatchNumber::FIRST, close.trace.clone())
    );
    assert_eq!(fx.shop_balance(SHOP), 1_000_00 - 20_00 + 80_00);
    assert_eq!(fx.clearing(Currency::EUR), 0);
    let repeated = fx.settle(&BatchClose {
        repeat: true,
        ..close.clone()
    });
    assert_eq!(repeated, answer);
    let copy = fx.settle(&close);
    assert_eq!(copy, answer);
    assert_eq!(fx.shop_balance(SHOP), 1_060_00);
}

#[test]
fn settlement_with_other_totals_is_95_and_moves_nothing_until_they_agree() {
    let mut fx = Fixture::new();
    let sale = approved_sale(&mut fx, 30_00);
    let close = fx.close(SHOP, Currency::EUR, eur_totals(&[30_00, 5_00], &[]));
    assert_eq!(fx.settle(&close).response, ResponseCode::ReconcileError);
    assert_eq!(fx.postings(), 1);
    let yen = fx.close(SHOP, Currency::JPY, eur_totals(&[30_00], &[]));
    assert_eq!(fx.settle(&yen).response, ResponseCode::ReconcileError);
    let other_merchant = fx.close(POOR_SHOP, Currency::EUR, eur_totals(&[30_00], &[]));
    assert_eq!(fx.settle(&other_merchant).response, ResponseCode::ReconcileError);
    let right = fx.close(
        SHOP,
        Currency::EUR,
        eur_totals(&[sale.amount.amount.minor_units()], &[]),
    );
    assert_eq!(fx.settle(&right).response, ResponseCode::Approved);
    assert_eq!(fx.shop_balance(SHOP), 1_030_00);
}

#[test]
fn settlement_for_a_frozen_merchant_is_held_and_paid_on_unfreeze() {
    let mut fx = Fixture::new();
    approved_sale(&mut fx, 30_00);
    let reversed = approved_sale(&mut fx, 5_00);
    fx.command(BankCommand::SetMerchantState {
        merchant: merchant(SHOP),
        state: MerchantState::Frozen,
    });
    let close = fx.close(SHOP, Currency::EUR, eur_totals(&[30_00, 5_00], &[]));
    assert_eq!(fx.settle(&close).response, ResponseCode::Approved);
    assert_eq!(
        (fx.shop_balance(SHOP), fx.clearing(Currency::EUR)),
        (1_000_00, 35_00)
    );
    assert!(fx.bank.settlements().values().all(|batch| batch.held));
    // A held sale reversed before the payout comes back from clearing.
    fx.reverse(&reversed, false);
    assert_eq!(
        fx.settle(&BatchClose {
            repeat: true,
            ..close
        })
        .response,
        ResponseCode::Approved
    );
    fx.command(BankCommand::SetMerchantState {
        merchant: merchant(SHOP),
        state: MerchantState::Blacklisted,
    });
    assert_eq!(fx.shop_balance(SHOP), 1_000_00, "only becoming active pays");
    fx.command(BankCommand::SetMerchantState {
        merchant: merchant(SHOP),
        state: MerchantState::Active,
    });
    assert_eq!((fx.shop_balance(SHOP), fx.clearing(Currency::EUR)), (1_030_00, 0));
    fx.command(BankCommand::SetMerchantState {
        merchant: merchant(SHOP),
        state: MerchantState::Active,
    });
    assert_eq!(fx.shop_balance(SHOP), 1_030_00, "paid once");
}

// ---------------------------------------------------------------- bad input

#[test]
fn bad_mac_is_answered_63_with_no_state_change_and_no_record() {
    let mut fx = Fixture::new();
    let sale = fx.sale(EUR_CARD, 10_00, Currency::EUR);
    let mut raw = WireMessage::FinancialRequest(sale.clone()).to_message();
    let mut bytes = sign(&mut raw, &MacKey([9; 16])).unwrap();
    let effects = fx.deliver_bytes(&bytes);
    let answer = raw_reply(&effects);
    assert_eq!(answer.mti.value(), 210);
    assert_eq!(answer.get(39), Some(&b"63"[..]));
    assert_eq!(answer.get(11), Some(sale.trace.stan.to_wire().as_bytes()));
    assert_eq!(effects.len(), 1);
    // A corrupted byte inside a signed message: same.
    let mut raw = WireMessage::FinancialRequest(sale.clone()).to_message();
    bytes = sign(&mut raw, &LINK_KEY).unwrap();
    let position = bytes.windows(4).position(|window| window == b"0010").unwrap();
    bytes[position + 3] = b'9';
    let answer = raw_reply(&fx.deliver_bytes(&bytes));
    assert_eq!(answer.get(39), Some(&b"63"[..]));
    assert_eq!(fx.postings(), 0);
    assert!(fx.journal.is_empty());
    assert!(fx.bank.transactions().is_empty());
    // The genuine message is then processed normally.
    assert_eq!(fx.code(&sale), ResponseCode::Approved);
}

#[test]
fn undecodable_messages_and_bad_mac_answers_are_dropped() {
    let mut fx = Fixture::new();
    assert!(fx.deliver_bytes(b"02").is_empty());
    let sale = fx.sale(EUR_CARD, 10_00, Currency::EUR);
    let answer = FinancialResponse {
        processing: sale.processing,
        amount: sale.amount,
        trace: sale.trace.clone(),
        rrn: sale.rrn.clone(),
        response: ResponseCode::Approved,
        approval: None,
        balance: None,
    };
    let mut raw = WireMessage::FinancialResponse(answer.clone()).to_message();
    let bytes = sign(&mut raw, &MacKey([9; 16])).unwrap();
    assert!(fx.deliver_bytes(&bytes).is_empty(), "a response has no response");
    assert!(
        fx.deliver(&WireMessage::FinancialResponse(answer)).is_empty(),
        "unsolicited answers are dropped"
    );
}

#[test]
fn format_errors_are_answered_30_or_12_with_no_state_change() {
    let mut fx = Fixture::new();
    let sale = fx.sale(EUR_CARD, 10_00, Currency::EUR);
    let mut missing_expiry = WireMessage::FinancialRequest(sale.clone()).to_message();
    missing_expiry.remove(14);
    let bytes = sign(&mut missing_expiry, &LINK_KEY).unwrap();
    let answer = raw_reply(&fx.deliver_bytes(&bytes));
    assert_eq!((answer.mti.value(), answer.get(39)), (210, Some(&b"30"[..])));
    let mut bad_currency = WireMessage::FinancialRequest(sale.clone()).to_message();
    bad_currency.set_text(49, "999");
    let bytes = sign(&mut bad_currency, &LINK_KEY).unwrap();
    assert_eq!(raw_reply(&fx.deliver_bytes(&bytes)).get(39), Some(&b"30"[..]));
    let mut unknown_processing = WireMessage::FinancialRequest(sale.clone()).to_message();
    unknown_processing.set_text(3, "990000");
    let bytes = sign(&mut unknown_processing, &LINK_KEY).unwrap();
    assert_eq!(raw_reply(&fx.deliver_bytes(&bytes)).get(39), Some(&b"12"[..]));
    let mut bad_reversal = WireMessage::ReversalAdvice(reversal_of(&sale, false)).to_message();
    bad_reversal.remove(90);
    let bytes = sign(&mut bad_reversal, &LINK_KEY).unwrap();
    let answer = raw_reply(&fx.deliver_bytes(&bytes));
    assert_eq!((answer.mti.value(), answer.get(39)), (430, Some(&b"30"[..])));
    assert!(fx.journal.is_empty());
    assert_eq!(fx.postings(), 0);
    assert_eq!(fx.code(&sale), ResponseCode::Approved);
}

#[test]
fn echo_is_answered_without_a_record() {
    let mut fx = Fixture::new();
    let echo = NetworkRequest {
        code: 301,
        stan: Stan::FIRST,
        transmitted: Calendar::default().transmission_time(Millis(0)),
    };
    let effects = fx.deliver(&WireMessage::NetworkRequest(echo.clone()));
    match reply(&effects) {
        WireMessage::NetworkResponse(response) => {
            assert_eq!((response.code, response.response), (301, ResponseCode::Approved))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(effects.len(), 1);
}

// ---------------------------------------------------------------- planted bugs

#[test]
fn bug_bank_not_idempotent_posts_a_repeat_again() {
    for (bugs, postings) in [(Bugs::none(), 1), (Bugs::of([Bug::BankNotIdempotent]), 2)] {
        let mut fx = Fixture::with_bugs(bugs);
        let sale = approved_sale(&mut fx, 10_00);
        fx.financial(&repeat(&sale));
        assert_eq!(fx.postings(), postings);
    }
    // The classic refund symptom: the retry of a full refund shows 13.
    let mut fx = Fixture::with_bugs(Bugs::of([Bug::BankNotIdempotent]));
    let sale = approved_sale(&mut fx, 10_00);
    let refund = fx.refund(&sale, 10_00);
    assert_eq!(fx.code(&refund), ResponseCode::Approved);
    assert_eq!(fx.code(&repeat(&refund)), ResponseCode::InvalidAmount);
}

#[test]
fn bug_bank_reply_before_sync_sends_before_the_sync() {
    let position =
        |effects: &[BankEffect], wanted: fn(&BankEffect) -> bool| effects.iter().position(wanted).unwrap();
    for (bugs, reply_first) in [
        (Bugs::none(), false),
        (Bugs::of([Bug::BankReplyBeforeSync]), true),
    ] {
        let mut fx = Fixture::with_bugs(bugs);
        let sale = fx.sale(EUR_CARD, 1_00, Currency::EUR);
        let effects = fx.deliver(&WireMessage::FinancialRequest(sale));
        let send = position(&effects, |effect| matches!(effect, Effect::Send { .. }));
        let sync = position(&effects, |effect| matches!(effect, Effect::Sync));
        assert_eq!(send < sync, reply_first, "{effects:?}");
        assert!(matches!(effects[0], Effect::Append(_)));
    }
}

#[test]
fn bug_reversal_every_copy_undoes_again() {
    for (bugs, card_balance) in [
        (Bugs::none(), 1_000_00),
        (Bugs::of([Bug::ReversalEveryCopy]), 1_040_00),
    ] {
        let mut fx = Fixture::with_bugs(bugs);
        let sale = approved_sale(&mut fx, 40_00);
        fx.reverse(&sale, false);
        fx.reverse(&sale, true);
        assert_eq!(fx.card_balance(EUR_CARD), card_balance);
    }
}

#[test]
fn bug_reversal_unknown_ignored_lets_the_late_original_post() {
    for (bugs, late_code, card_balance) in [
        (Bugs::none(), ResponseCode::InvalidTransaction, 1_000_00),
        (
            Bugs::of([Bug::ReversalUnknownIgnored]),
            ResponseCode::Approved,
            960_00,
        ),
    ] {
        let mut fx = Fixture::with_bugs(bugs);
        let sale = fx.sale(EUR_CARD, 40_00, Currency::EUR);
        fx.reverse(&sale, false);
        assert_eq!(fx.code(&sale), late_code);
        assert_eq!(fx.card_balance(EUR_CARD), card_balance);
    }
}

#[test]
fn bug_refund_bound_unchecked_refunds_more_than_the_sale() {
    for (bugs, code) in [
        (Bugs::none(), ResponseCode::InvalidAmount),
        (Bugs::of([Bug::RefundBoundUnchecked]), ResponseCode::Approved),
    ] {
        let mut fx = Fixture::with_bugs(bugs);
        let sale = approved_sale(&mut fx, 100_00);
        let first = fx.refund(&sale, 60_00);
        assert_eq!(fx.code(&first), ResponseCode::Approved);
        let second = fx.refund(&sale, 60_00);
        assert_eq!(fx.code(&second), code);
    }
}

/// Two refunds of 60 against a sale of 100, the second arriving before the
/// first's posting step; then every timer fires.
fn racing_refunds(bugs: Bugs) -> (Fixture, Vec<ResponseCode>) {
    let mut fx = Fixture::with_bugs(bugs);
    let sale = approved_sale(&mut fx, 100_00);
    let mut timers = Vec::new();
    let mut codes = Vec::new();
    for _ in 0..2 {
        let refund = fx.refund(&sale, 60_00);
        let effects = fx.deliver(&WireMessage::FinancialRequest(refund));
        codes.push(match reply(&effects) {
            WireMessage::FinancialResponse(response) => response.response,
            other => panic!("{other:?}"),
        });
        timers.extend(effects.into_iter().filter_map(|effect| match effect {
            Effect::SetTimer { timer, at } => Some((timer, at)),
            _ => None,
        }));
    }
    for (timer, at) in timers {
        let effects = fx.bank.on_timer(at, timer);
        fx.keep(&effects);
    }
    (fx, codes)
}

#[test]
fn bug_refund_bound_race_lets_two_racing_refunds_exceed_the_sale() {
    let (fx, codes) = racing_refunds(Bugs::none());
    assert_eq!(codes, [ResponseCode::Approved, ResponseCode::InvalidAmount]);
    assert_eq!(fx.card_balance(EUR_CARD), 960_00);
    let (fx, codes) = racing_refunds(Bugs::of([Bug::RefundBoundRace]));
    assert_eq!(codes, [ResponseCode::Approved, ResponseCode::Approved]);
    assert_eq!(fx.card_balance(EUR_CARD), 1_020_00, "refunded 120 of a 100 sale");
    // Once posted, the bound is seen again.
    let sale_key = fx
        .bank
        .transactions()
        .values()
        .find(|t| t.request.processing == ProcessingCode::Sale)
        .unwrap();
    assert_eq!(sale_key.refunded_minor, 120_00);
}

#[test]
fn bug_refund_bound_race_deferred_postings_survive_a_reboot() {
    let mut fx = Fixture::with_bugs(Bugs::of([Bug::RefundBoundRace]));
    let sale = approved_sale(&mut fx, 100_00);
    let refund = fx.refund(&sale, 60_00);
    fx.code(&refund);
    assert_eq!(fx.card_balance(EUR_CARD), 900_00, "not posted yet");
    let mut rebooted = Bank::boot(fx.config.clone(), fx.journal.clone());
    let effects = rebooted.start(Millis(5_000));
    let [Effect::SetTimer { timer, at }] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(*at, Millis(5_000 + DEFERRED_REFUND_POSTING_MS));
    let posted = rebooted.on_timer(*at, timer.clone());
    assert!(matches!(
        posted[..],
        [Effect::Append(BankRecord::DeferredPosted { .. }), Effect::Sync]
    ));
    assert_eq!(
        rebooted
            .ledger()
            .balance(&AccountId::Cardholder(pan(EUR_CARD)), Currency::EUR),
        960_00
    );
    assert!(rebooted.on_timer(*at, timer.clone()).is_empty(), "posted once");
}

#[test]
fn bug_void_after_settlement_pays_merchant_and_refunds_card() {
    for (bugs, code, clearing) in [
        (Bugs::none(), ResponseCode::InvalidTransaction, 0),
        (
            Bugs::of([Bug::VoidAfterSettlement]),
            ResponseCode::Approved,
            -30_00,
        ),
    ] {
        let mut fx = Fixture::with_bugs(bugs);
        let sale = approved_sale(&mut fx, 30_00);
        let close = fx.close(SHOP, Currency::EUR, eur_totals(&[30_00], &[]));
        fx.settle(&close);
        let void = fx.void(&sale);
        assert_eq!(fx.code(&void), code);
        assert_eq!(fx.clearing(Currency::EUR), clearing);
        assert_eq!(fx.shop_balance(SHOP), 1_030_00);
    }
}

#[test]
fn bug_batch_settled_twice_pays_a_repeated_settlement_again() {
    for (bugs, shop_balance) in [
        (Bugs::none(), 1_030_00),
        (Bugs::of([Bug::BatchSettledTwice]), 1_060_00),
    ] {
        let mut fx = Fixture::with_bugs(bugs);
        approved_sale(&mut fx, 30_00);
        let close = fx.close(SHOP, Currency::EUR, eur_totals(&[30_00], &[]));
        assert_eq!(fx.settle(&close).response, ResponseCode::Approved);
        assert_eq!(
            fx.settle(&BatchClose {
                repeat: true,
                ..close
            })
            .response,
            ResponseCode::Approved
        );
        assert_eq!(fx.shop_balance(SHOP), shop_balance);
    }
}

#[test]
fn bug_decline_partial_posting_leaves_the_merchant_debited() {
    for (bugs, shop_balance) in [(Bugs::none(), 5_00), (Bugs::of([Bug::DeclinePartialPosting]), -1)] {
        let mut fx = Fixture::with_bugs(bugs);
        let sale = fx.request(
            ProcessingCode::Sale,
            EUR_CARD,
            POOR_SHOP,
            money(20_00, Currency::EUR),
        );
        fx.code(&sale);
        let refund = fx.refund(&sale, 5_01);
        assert_eq!(fx.code(&refund), ResponseCode::InsufficientFunds);
        assert_eq!(fx.shop_balance(POOR_SHOP), shop_balance);
        assert_eq!(
            fx.card_balance(EUR_CARD),
            980_00,
            "the cardholder never sees the money"
        );
    }
}

// ---------------------------------------------------------------- recovery

/// One input of a scripted run.
#[derive(Debug, Clone)]
enum Step {
    Message(Millis, WireMessage),
    Command(Millis, BankCommand),
}

/// The same input as the switch (or operator) would send it again.
fn retried(step: &Step) -> Step {
    match step {
        Step::Message(at, WireMessage::FinancialRequest(request)) => Step::Message(
            *at,
            WireMessage::FinancialRequest(FinancialRequest {
                repeat: true,
                ..request.clone()
            }),
        ),
        Step::Message(at, WireMessage::ReversalAdvice(advice)) => Step::Message(
            *at,
            WireMessage::ReversalAdvice(ReversalAdvice {
                repeat: true,
                ..advice.clone()
            }),
        ),
        Step::Message(at, WireMessage::BatchClose(close)) => Step::Message(
            *at,
            WireMessage::BatchClose(BatchClose {
                repeat: true,
                ..close.clone()
            }),
        ),
        other => other.clone(),
    }
}

/// Run `steps` on `fx`; the reply of each message, in order.
fn run(fx: &mut Fixture, steps: &[Step]) -> Vec<WireMessage> {
    let mut replies = Vec::new();
    for step in steps {
        match step {
            Step::Message(at, message) => {
                fx.now = *at;
                replies.push(reply(&fx.deliver(message)));
            }
            Step::Command(at, command) => {
                fx.now = *at;
                fx.command(command.clone());
            }
        }
    }
    replies
}

fn script() -> Vec<Step> {
    let mut fx = Fixture::new();
    let mut steps = Vec::new();
    let financial = |request: &FinancialRequest| WireMessage::FinancialRequest(request.clone());
    let kept = fx.sale(EUR_CARD, 30_00, Currency::EUR);
    let refunded = fx.sale(EUR_CARD, 100_00, Currency::EUR);
    let voided = fx.sale(EUR_CARD, 7_00, Currency::EUR);
    let reversed = fx.sale(EUR_CARD, 9_00, Currency::EUR);
    let tombstoned = fx.sale(EUR_CARD, 11_00, Currency::EUR);
    let declined = fx.sale(POOR_CARD, 50_00, Currency::EUR);
    let mut yen = fx.sale(JPY_CARD, 1_500, Currency::JPY);
    yen.batch = BatchNumber::new(2).unwrap();
    let first_refund = fx.refund(&refunded, 40_00);
    let second_refund = fx.refund(&refunded, 60_00);
    let over_refund = fx.refund(&refunded, 1);
    let void = fx.void(&voided);
    let close = fx.close(SHOP, Currency::EUR, eur_totals(&[30_00, 100_00], &[40_00, 60_00]));
    let at = |seconds: u64| Millis(1_000 * seconds);
    steps.push(Step::Message(at(1), financial(&kept)));
    steps.push(Step::Message(at(2), financial(&refunded)));
    steps.push(Step::Message(at(3), financial(&voided)));
    steps.push(Step::Message(at(4), financial(&reversed)));
    steps.push(Step::Message(
        at(5),
        WireMessage::ReversalAdvice(reversal_of(&tombstoned, false)),
    ));
    steps.push(Step::Message(at(6), financial(&declined)));
    steps.push(Step::Message(at(7), financial(&yen)));
    steps.push(Step::Message(at(8), financial(&first_refund)));
    steps.push(Step::Message(
        at(9),
        WireMessage::ReversalAdvice(reversal_of(&reversed, false)),
    ));
    steps.push(Step::Message(at(10), financial(&second_refund)));
    steps.push(Step::Message(at(11), financial(&over_refund)));
    steps.push(Step::Message(at(12), financial(&void)));
    steps.push(Step::Message(at(13), financial(&tombstoned)));
    steps.push(Step::Command(
        at(14),
        BankCommand::SetMerchantState {
            merchant: merchant(SHOP),
            state: MerchantState::Frozen,
        },
    ));
    steps.push(Step::Message(at(15), WireMessage::BatchClose(close)));
    steps.push(Step::Command(
        at(16),
        BankCommand::SetMerchantState {
            merchant: merchant(SHOP),
            state: MerchantState::Active,
        },
    ));
    steps.push(Step::Message(
        at(17),
        WireMessage::ReversalAdvice(reversal_of(&yen, false)),
    ));
    steps
}

fn balances(bank: &Bank) -> Vec<(AccountId, Currency, i64)> {
    bank.ledger()
        .balances()
        .map(|(account, currency, balance)| (account.clone(), currency, balance))
        .collect()
}

#[test]
fn the_script_exercises_every_kind_of_record() {
    let mut fx = Fixture::new();
    let replies = run(&mut fx, &script());
    let codes: Vec<ResponseCode> = replies
        .iter()
        .map(|reply| match reply {
            WireMessage::FinancialResponse(response) => response.response,
            WireMessage::ReversalResponse(response) => response.response,
            WireMessage::BatchCloseResponse(response) => response.response,
            other => panic!("{other:?}"),
        })
        .collect();
    use ResponseCode::*;
    assert_eq!(
        codes,
        [
            Approved,
            Approved,
            Approved,
            Approved,
            Approved,
            InsufficientFunds,
            Approved,
            Approved,
            Approved,
            Approved,
            InvalidAmount,
            Approved,
            InvalidTransaction,
            Approved,
            Approved
        ]
    );
    assert_eq!(fx.shop_balance(SHOP), 1_000_00 - 100_00 + 130_00);
    assert_eq!(fx.card_balance(EUR_CARD), 1_000_00 - 30_00);
    assert_eq!(fx.card_balance(JPY_CARD), 100_000);
    assert!(fx
        .journal
        .iter()
        .any(|record| matches!(record, BankRecord::Commanded(c) if !c.payouts.is_empty())));
}

#[test]
fn rebooting_from_the_full_journal_gives_the_live_state() {
    let mut fx = Fixture::new();
    run(&mut fx, &script());
    let rebooted = Bank::boot(fx.config.clone(), fx.journal.clone());
    assert_eq!(rebooted.ledger(), fx.bank.ledger());
    assert_eq!(rebooted.transactions(), fx.bank.transactions());
    assert_eq!(rebooted.settlements(), fx.bank.settlements());
    assert!(rebooted.tombstones().eq(fx.bank.tombstones()));
    // Journal records survive the on-disk encoding.
    let bytes: Vec<u8> = fx
        .journal
        .iter()
        .flat_map(payfault::node::journal::encode_record)
        .collect();
    let recovered: payfault::node::journal::Recovered<BankRecord> =
        payfault::node::journal::decode_journal(&bytes);
    assert_eq!(recovered.records, fx.journal);
}

#[test]
fn recovery_from_every_journal_prefix_ends_with_the_same_ledger() {
    let steps = script();
    let mut live = Fixture::new();
    let live_replies = run(&mut live, &steps);
    let records = live.journal.clone();
    for prefix in 0..=records.len() {
        let mut fx = Fixture::new();
        fx.bank = Bank::boot(fx.config.clone(), records[..prefix].to_vec());
        assert!(fx.bank.start(Millis(0)).is_empty());
        // The switch retries everything it has no durable answer for; we
        // retry everything, which must be harmless for the rest.
        let retries: Vec<Step> = steps.iter().map(retried).collect();
        let replies = run(&mut fx, &retries);
        assert_eq!(
            replies.len(),
            live_replies.len(),
            "every request answered (prefix {prefix})"
        );
        for (index, (got, want)) in replies.iter().zip(&live_replies).enumerate() {
            assert_eq!(got, want, "prefix {prefix}, step {index}");
        }
        assert_eq!(balances(&fx.bank), balances(&live.bank), "prefix {prefix}");
        assert_eq!(
            fx.bank.ledger().postings(),
            live.bank.ledger().postings(),
            "no double posting (prefix {prefix})"
        );
    }
}

// ---------------------------------------------------------------- conservation

#[derive(Debug, Clone)]
enum Operation {
    Sale { card: usize, minor: u64 },
    Refund { of: usize, minor: u64 },
    Void { of: usize },
    Reverse { of: usize, repeat: bool },
    Repeat { of: usize },
    Settle { honest: bool },
    Merchant { state: MerchantState },
    Maintenance { on: bool },
    Wait { ms: u64 },
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        4 => (0..4usize, 0..60_000u64).prop_map(|(card, minor)| Operation::Sale { card, minor }),
        3 => (0..40usize, 0..40_000u64).prop_map(|(of, minor)| Operation::Refund { of, minor }),
        1 => (0..40usize).prop_map(|of| Operation::Void { of }),
        2 => (0..40usize, any::<bool>()).prop_map(|(of, repeat)| Operation::Reverse { of, repeat }),
        2 => (0..40usize).prop_map(|of| Operation::Repeat { of }),
        1 => any::<bool>().prop_map(|honest| Operation::Settle { honest }),
        1 => prop_oneof![Just(MerchantState::Active), Just(MerchantState::Frozen), Just(MerchantState::Blacklisted)]
            .prop_map(|state| Operation::Merchant { state }),
        1 => any::<bool>().prop_map(|on| Operation::Maintenance { on }),
        1 => (0..DAY_MS).prop_map(|ms| Operation::Wait { ms }),
    ]
}

fn bank_bugs() -> impl Strategy<Value = Bugs> {
    let bank = [
        Bug::BankNotIdempotent,
        Bug::ReversalEveryCopy,
        Bug::ReversalUnknownIgnored,
        Bug::RefundBoundUnchecked,
        Bug::RefundBoundRace,
        Bug::VoidAfterSettlement,
        Bug::BatchSettledTwice,
        Bug::DeclinePartialPosting,
    ];
    prop_oneof![
        Just(Bugs::none()),
        proptest::sample::subsequence(bank.to_vec(), 0..=3).prop_map(Bugs::of)
    ]
}

fn live_totals(bank: &Bank) -> BatchTotals {
    let mut totals = BatchTotals::default();
    for item in bank.transactions().values() {
        if !item.is_approved() || item.reversed || item.voided || item.stage != SettlementStage::Open {
            continue;
        }
        let minor = item.request.amount.amount.minor_units();
        match item.request.processing {
            ProcessingCode::Sale => {
                (totals.debit_count, totals.debit_amount) =
                    (totals.debit_count + 1, totals.debit_amount + minor)
            }
            ProcessingCode::Refund => {
                (totals.credit_count, totals.credit_amount) =
                    (totals.credit_count + 1, totals.credit_amount + minor)
            }
            _ => {}
        }
    }
    totals
}

fn apply_operation(fx: &mut Fixture, sent: &mut Vec<FinancialRequest>, operation: &Operation) {
    let cards = [EUR_CARD, POOR_CARD, JPY_CARD, BHD_CARD];
    let currencies = [Currency::EUR, Currency::EUR, Currency::JPY, Currency::BHD];
    let pick =
        |sent: &Vec<FinancialRequest>, of: usize| (!sent.is_empty()).then(|| sent[of % sent.len()].clone());
    match operation {
        Operation::Sale { card, minor } => {
            let sale = fx.sale(cards[*card], *minor, currencies[*card]);
            fx.financial(&sale);
            sent.push(sale);
        }
        Operation::Refund { of, minor } => {
            if let Some(original) = pick(sent, *of) {
                let refund = fx.refund(&original, *minor);
                fx.financial(&refund);
                sent.push(refund);
            }
        }
        Operation::Void { of } => {
            if let Some(original) = pick(sent, *of) {
                let void = fx.void(&original);
                fx.financial(&void);
                sent.push(void);
            }
        }
        Operation::Reverse { of, repeat } => {
            if let Some(original) = pick(sent, *of) {
                fx.reverse(&original, *repeat);
            }
        }
        Operation::Repeat { of } => {
            if let Some(original) = pick(sent, *of) {
                fx.financial(&FinancialRequest {
                    repeat: true,
                    ..original
                });
            }
        }
        Operation::Settle { honest } => {
            let totals = if *honest {
                live_totals(&fx.bank)
            } else {
                eur_totals(&[1], &[])
            };
            let close = fx.close(SHOP, Currency::EUR, totals);
            fx.settle(&close);
        }
        Operation::Merchant { state } => {
            fx.command(BankCommand::SetMerchantState {
                merchant: merchant(SHOP),
                state: *state,
            });
        }
        Operation::Maintenance { on } => {
            fx.command(if *on {
                BankCommand::BeginMaintenance
            } else {
                BankCommand::EndMaintenance
            });
        }
        Operation::Wait { ms } => fx.now = fx.now.plus(*ms),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn money_is_conserved_and_every_posting_balances(
        bugs in bank_bugs(),
        operations in proptest::collection::vec(operation(), 1..60),
    ) {
        let mut fx = Fixture::with_bugs(bugs);
        let currencies = fx.bank.ledger().currencies();
        let opening: Vec<i128> = currencies.iter().map(|currency| fx.bank.ledger().total(*currency)).collect();
        let mut sent = Vec::new();
        for operation in &operations {
            apply_operation(&mut fx, &mut sent, operation);
            let totals: Vec<i128> = currencies.iter().map(|currency| fx.bank.ledger().total(*currency)).collect();
            prop_assert_eq!(&totals, &opening, "after {:?}", operation);
        }
        for posting in fx.bank.ledger().postings() {
            prop_assert!(posting.is_balanced(), "{:?}", posting);
        }
        prop_assert_eq!(fx.bank.ledger().currencies(), currencies);
        // Replaying the journal rebuilds the same ledger, bugs and all.
        let rebooted = Bank::boot(fx.config.clone(), fx.journal.clone());
        prop_assert_eq!(rebooted.ledger(), fx.bank.ledger());
    }

    #[test]
    fn without_bugs_no_sale_is_refunded_beyond_its_amount(
        operations in proptest::collection::vec(operation(), 1..60),
    ) {
        let mut fx = Fixture::new();
        let mut sent = Vec::new();
        for operation in &operations {
            apply_operation(&mut fx, &mut sent, operation);
        }
        for item in fx.bank.transactions().values() {
            prop_assert!(item.refunded_minor <= item.request.amount.amount.minor_units());
        }
    }
}
