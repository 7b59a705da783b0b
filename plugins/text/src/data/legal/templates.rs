//! The text of the contracts: agreement kinds' roles and main clauses, section headings and clause
//! templates, and the lists that terms are drawn from.
//!
//! Placeholders in `{braces}` are filled by `legal::fill` from the deal's terms; `{ref_<section>}`
//! becomes the number of that section, and a template citing a section the contract lacks is not used.

use super::Kind;

impl Kind {
    /// The agreement's name as written in its preamble.
    pub(super) fn title(self) -> &'static str {
        match self {
            Kind::Services => "Services Agreement",
            Kind::NonDisclosure => "Non-Disclosure Agreement",
            Kind::Licence => "Software Licence Agreement",
            Kind::Lease => "Lease Agreement",
            Kind::Supply => "Supply Agreement",
            Kind::Loan => "Loan Agreement",
            Kind::Consultancy => "Consultancy Agreement",
        }
    }

    /// The defined names of the first and second party.
    pub(super) fn roles(self) -> (&'static str, &'static str) {
        match self {
            Kind::Services => ("Supplier", "Customer"),
            Kind::NonDisclosure => ("Discloser", "Recipient"),
            Kind::Licence => ("Licensor", "Licensee"),
            Kind::Lease => ("Landlord", "Tenant"),
            Kind::Supply => ("Seller", "Buyer"),
            Kind::Loan => ("Lender", "Borrower"),
            Kind::Consultancy => ("Client", "Consultant"),
        }
    }

    /// Whether the first party (rather than the second) pays under the payment section.
    pub(super) fn first_party_pays(self) -> bool {
        self == Kind::Consultancy
    }

    /// General sections that do not fit this kind: a non-disclosure agreement has no fees, and its main
    /// section already is about confidentiality.
    pub(super) fn excludes(self, section: Section) -> bool {
        self == Kind::NonDisclosure
            && matches!(section, Section::Payment | Section::Confidentiality)
    }

    /// The main section's heading.
    pub(super) fn main_heading(self) -> &'static str {
        match self {
            Kind::Services => "SERVICES",
            Kind::NonDisclosure => "CONFIDENTIALITY OBLIGATIONS",
            Kind::Licence => "GRANT OF LICENCE",
            Kind::Lease => "THE PREMISES",
            Kind::Supply => "SUPPLY OF GOODS",
            Kind::Loan => "THE LOAN",
            Kind::Consultancy => "THE CONSULTANCY",
        }
    }

    /// The definition of this kind's subject matter, always clause 1.1.
    pub(super) fn subject_definition(self) -> &'static str {
        match self {
            Kind::Services => "\"Services\" means the services described in Schedule 1, as varied under this Agreement.",
            Kind::NonDisclosure => "\"Purpose\" means evaluating a possible business relationship between the Parties.",
            Kind::Licence => "\"Software\" means the {product} software in object code form, together with its documentation.",
            Kind::Lease => "\"Premises\" means the property known as {address}.",
            Kind::Supply => "\"Goods\" means the {goods} described in the Specification.",
            Kind::Loan => "\"Loan\" means the principal amount of {principal} lent under this Agreement.",
            Kind::Consultancy => "\"Consultancy Services\" means the advisory services described in Schedule 1.",
        }
    }

    pub(super) fn main_templates(self) -> &'static [&'static str] {
        match self {
            Kind::Services => &[
                "The {a} shall provide the Services to the {b} from the Effective Date with reasonable skill and care and in accordance with good industry practice.",
                "The {a} shall assign suitably qualified personnel to perform the Services and shall replace any such person whom the {b} reasonably considers unsuitable.",
                "The {b} shall give the {a} such access to its premises, systems and information as the {a} reasonably requires to perform the Services.",
                "Any change to the scope of the Services takes effect only when agreed in writing by both Parties.",
            ],
            Kind::NonDisclosure => &[
                "The {b} shall keep the Confidential Information secret and shall not disclose it to any third party without the prior written consent of the {a}.",
                "The {b} shall use the Confidential Information solely for the Purpose.",
                "The {b} may disclose Confidential Information to its employees and advisers who need to know it for the Purpose, provided that they are bound by obligations of confidence no less strict than those in this Section {ref_main}.",
                "The obligations in this Section {ref_main} continue for {years} after the Effective Date.",
                "On request, the {b} shall promptly return or destroy all documents containing Confidential Information.",
            ],
            Kind::Licence => &[
                "The {a} grants to the {b} a non-exclusive, non-transferable licence to use the Software for its internal business purposes during the Term.",
                "The {b} shall not copy, modify, decompile or reverse engineer the Software except to the extent permitted by law.",
                "All intellectual property rights in the Software remain with the {a}.",
                "The {b} may install the Software on no more than {seats} devices at any one time.",
            ],
            Kind::Lease => &[
                "The {a} lets the Premises to the {b} for the Term.",
                "The {b} shall use the Premises as offices only and for no other purpose.",
                "The {b} shall keep the interior of the Premises in good and substantial repair, fair wear and tear excepted.",
                "The {b} shall not make any structural alteration to the Premises without the prior written consent of the {a}, such consent not to be unreasonably withheld.",
            ],
            Kind::Supply => &[
                "The {a} shall supply the Goods to the {b} in the quantities and at the times specified in each Order.",
                "Delivery shall take place at the {b}'s premises in {city_b}, and risk in the Goods passes to the {b} on delivery.",
                "Title to the Goods passes to the {b} only when the {a} has received payment in full.",
                "The {b} may reject any Goods that do not conform to the Specification by giving notice within {cure} of delivery.",
            ],
            Kind::Loan => &[
                "The {a} agrees to lend the {b} the sum of {principal} on the terms of this Agreement.",
                "The {b} shall repay the Loan in full no later than {term} after the Effective Date.",
                "Interest accrues on the outstanding balance of the Loan at the rate of {interest} per annum.",
                "The {b} may prepay all or part of the Loan at any time on giving the {a} not less than {notice}' notice.",
            ],
            Kind::Consultancy => &[
                "The {b} shall provide the Consultancy Services to the {a} for not less than {hours} hours in each calendar month.",
                "The {b} is an independent contractor, and nothing in this Agreement creates an employment relationship between the Parties.",
                "The {b} may decide the manner in which the Consultancy Services are performed, subject to the reasonable requirements of the {a}.",
                "The {b} shall comply with the {a}'s policies on health, safety and data protection while on the {a}'s premises.",
            ],
        }
    }
}

/// A section of a contract, in the order sections appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Section {
    Definitions,
    Main,
    Payment,
    Confidentiality,
    Warranties,
    Liability,
    Termination,
    ForceMajeure,
    Notices,
    Assignment,
    GoverningLaw,
}

/// The sections a contract may or may not have, in the order they appear.
pub(super) const GENERAL_SECTIONS: [Section; 8] = [
    Section::Payment,
    Section::Confidentiality,
    Section::Warranties,
    Section::Liability,
    Section::Termination,
    Section::ForceMajeure,
    Section::Notices,
    Section::Assignment,
];

/// Definitions other than the subject matter's, in the order they appear.
pub(super) const DEFINITIONS: [&str; 5] = [
    "\"Agreement\" means this {title} and its schedules.",
    "\"Business Day\" means a day other than a Saturday, Sunday or public holiday in {law}.",
    "\"Confidential Information\" means all information of a confidential nature disclosed by one Party to the other, whether in writing, orally or by any other means.",
    "\"Effective Date\" means {date}.",
    "\"Term\" means the period of {term} beginning on the Effective Date.",
];

impl Section {
    /// The placeholder that cites this section, such as `ref_payment`.
    pub(super) fn reference(self) -> &'static str {
        match self {
            Section::Definitions => "ref_definitions",
            Section::Main => "ref_main",
            Section::Payment => "ref_payment",
            Section::Confidentiality => "ref_confidentiality",
            Section::Warranties => "ref_warranties",
            Section::Liability => "ref_liability",
            Section::Termination => "ref_termination",
            Section::ForceMajeure => "ref_force_majeure",
            Section::Notices => "ref_notices",
            Section::Assignment => "ref_assignment",
            Section::GoverningLaw => "ref_governing_law",
        }
    }

    pub(super) fn heading(self, kind: Kind) -> &'static str {
        match self {
            Section::Definitions => "DEFINITIONS",
            Section::Main => kind.main_heading(),
            Section::Payment => "FEES AND PAYMENT",
            Section::Confidentiality => "CONFIDENTIALITY",
            Section::Warranties => "WARRANTIES",
            Section::Liability => "LIMITATION OF LIABILITY",
            Section::Termination => "TERM AND TERMINATION",
            Section::ForceMajeure => "FORCE MAJEURE",
            Section::Notices => "NOTICES",
            Section::Assignment => "ASSIGNMENT",
            Section::GoverningLaw => "GOVERNING LAW AND JURISDICTION",
        }
    }

    /// The clause templates; the first is always used. Definitions are assembled separately.
    pub(super) fn templates(self, kind: Kind) -> &'static [&'static str] {
        match self {
            Section::Definitions => &DEFINITIONS,
            Section::Main => kind.main_templates(),
            Section::Payment => &[
                "The {payer} shall pay the {payee} {fee} for each calendar month of the Term.",
                "The {payee} shall invoice the {payer} monthly in arrears, and the {payer} shall pay each undisputed invoice within {pay_days} of receipt.",
                "All sums payable under this Agreement are exclusive of value added tax, which the {payer} shall pay in addition at the applicable rate.",
                "If the {payer} fails to pay any sum when due, interest accrues on the overdue amount at {late_interest} per annum from the due date until payment.",
            ],
            Section::Confidentiality => &[
                "Each Party shall keep confidential all Confidential Information of the other Party and shall not use it except to perform its obligations under this Agreement.",
                "A Party may disclose Confidential Information where required by law or by any court or regulatory authority, provided that it gives the other Party as much notice as is lawful and practicable.",
                "This Section {ref_confidentiality} does not apply to information that is or becomes public other than through a breach of this Agreement.",
                "The obligations in this Section {ref_confidentiality} survive termination of this Agreement for {years}.",
            ],
            Section::Warranties => &[
                "Each Party warrants that it has full power and authority to enter into and perform this Agreement.",
                "The {a} warrants that it will perform its obligations under this Agreement in compliance with all applicable laws.",
                "Except as expressly stated in this Agreement, all warranties, conditions and other terms implied by statute or common law are excluded to the fullest extent permitted by law.",
                "The {b} shall notify the {a} in writing of any breach of warranty within {cure} of becoming aware of it.",
            ],
            Section::Liability => &[
                "Nothing in this Agreement limits or excludes liability for death or personal injury caused by negligence, or for fraud.",
                "Neither Party is liable for any loss of profit, loss of business or indirect or consequential loss arising under or in connection with this Agreement.",
                "Each Party's total liability arising under or in connection with this Agreement shall not exceed {cap}.",
                "The limits in this Section {ref_liability} apply whether liability arises in contract, tort (including negligence), breach of statutory duty or otherwise.",
            ],
            Section::Termination => &[
                "This Agreement starts on the Effective Date and continues for {term} unless terminated earlier under this Section {ref_termination}.",
                "Either Party may terminate this Agreement by giving the other Party not less than {notice}' written notice.",
                "Either Party may terminate this Agreement with immediate effect if the other Party commits a material breach and fails to remedy it within {cure} of being notified of it.",
                "Either Party may terminate this Agreement with immediate effect if the other Party becomes insolvent, enters into liquidation or has a receiver appointed over any of its assets.",
                "On termination, Sections {ref_confidentiality} and {ref_liability} continue in force.",
                "Termination does not affect any rights that accrued before it, including the right to be paid under Section {ref_payment}.",
            ],
            Section::ForceMajeure => &[
                "Neither Party is in breach of this Agreement, nor liable for delay in performing its obligations, if the delay results from events beyond its reasonable control.",
                "The affected Party shall promptly notify the other Party of the event and its expected duration and shall use reasonable endeavours to mitigate its effect.",
                "If the event continues for more than {force_majeure_days}, the other Party may terminate this Agreement by giving {cure}' written notice.",
            ],
            Section::Notices => &[
                "Any notice under this Agreement shall be in writing and delivered by hand, by pre-paid post or by email.",
                "Notices to the {a} shall be sent to its registered office in {city_a}, and notices to the {b} to its registered office in {city_b}.",
                "A notice delivered by hand is received on delivery, and a notice sent by post is received on the second working day after posting.",
                "A notice sent by email is received at the time of transmission, unless the sender receives a notice of delivery failure.",
            ],
            Section::Assignment => &[
                "Neither Party may assign, transfer or subcontract any of its rights or obligations under this Agreement without the prior written consent of the other Party.",
                "The {a} may assign this Agreement to any member of its group on written notice to the {b}.",
                "This Agreement binds and benefits the Parties and their respective successors and permitted assigns.",
            ],
            Section::GoverningLaw => &[
                "This Agreement and any dispute arising out of or in connection with it are governed by the laws of {law}.",
                "The courts of {law} have exclusive jurisdiction to settle any dispute arising out of or in connection with this Agreement.",
                "Before starting proceedings, the Parties shall try in good faith to settle any dispute by negotiation between senior representatives for {cure}.",
                "Nothing in this Section {ref_governing_law} prevents a Party from seeking urgent injunctive relief in any court.",
            ],
        }
    }
}

pub(super) const JURISDICTIONS: [&str; 10] = [
    "England and Wales",
    "Scotland",
    "Ireland",
    "the State of New York",
    "the State of Delaware",
    "the Province of Ontario",
    "New South Wales",
    "Singapore",
    "the Netherlands",
    "Switzerland",
];
pub(super) const LEGAL_FORMS: [&str; 6] = ["Ltd", "LLC", "GmbH", "Inc", "AG", "plc"];
pub(super) const CURRENCIES: [&str; 4] = ["GBP", "EUR", "USD", "CHF"];
pub(super) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
pub(super) const GOODS: [&str; 8] = [
    "industrial fasteners",
    "office furniture",
    "packaging materials",
    "laboratory reagents",
    "electronic components",
    "printed circuit boards",
    "agricultural seed",
    "steel tubing",
];
pub(super) const STREET_KINDS: [&str; 4] = ["Street", "Road", "Lane", "Square"];
pub(super) const PREAMBLES: [&str; 3] = [
    "This {title} (the \"Agreement\") is made on {date} between {party_a}, a company incorporated in {law_a} whose registered office is in {city_a} (the \"{a}\"), and {party_b}, a company incorporated in {law_b} whose registered office is in {city_b} (the \"{b}\").",
    "This {title} (the \"Agreement\") is dated {date} and is made between {party_a} of {city_a} (the \"{a}\") and {party_b} of {city_b} (the \"{b}\"), each a \"Party\".",
    "{party_a} (the \"{a}\") and {party_b} (the \"{b}\") enter into this {title} (the \"Agreement\") on {date}.",
];
pub(super) const CLOSINGS: [&str; 3] = [
    "Signed by the authorised representatives of {party_a} and {party_b} on the date first written above.",
    "Executed as an agreement by {party_a} and {party_b} on {date}.",
    "In witness whereof the Parties have signed this Agreement on {date}.",
];
