"""Demo data, only in demo mode and only into an empty catalog, through the service's own code paths."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from gluta_kit.logging import get_logger
from gluta_kit.service import Service
from gluta_product.banner.models import Banner
from gluta_product.banner.service import create_banner
from gluta_product.catalog.models import Product, ProductType
from gluta_product.catalog.schemas import ProductWrite
from gluta_product.catalog.service import create_product, create_type
from gluta_product.demo.drawing import PATTERNS, draw_banner, draw_product
from gluta_product.image.service import ImageLimits, check_image, store_image
from gluta_product.image.storage import ImageStorage
from gluta_product.synonym.schemas import SynonymEntry, SynonymList
from gluta_product.synonym.service import list_synonyms, replace_synonyms

log = get_logger("gluta.product.demo")

STYLES = ("캐주얼", "미니멀", "스트릿", "빈티지", "오피스", "러블리")

# (type, [(name, english label, material)])
CATALOG: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("아우터", [("울 니트 가디건", "WOOL KNIT CARDIGAN", "울 70%, 나일론 30%"),
              ("오버핏 트렌치 코트", "TRENCH COAT", "면 100%"),
              ("경량 패딩 점퍼", "LIGHT PADDING", "나일론 100%, 충전재 덕다운"),
              ("데님 트러커 재킷", "DENIM JACKET", "면 98%, 스판 2%"),
              ("울 블렌드 싱글 코트", "SINGLE COAT", "울 60%, 폴리 40%"),
              ("숏 플리스 자켓", "FLEECE JACKET", "폴리에스터 100%"),
              ("Classic Leather Jacket", "LEATHER JACKET", "Lamb leather")]),
    ("상의", [("코튼 오버핏 티셔츠", "COTTON TEE", "면 100%"),
             ("스트라이프 니트 스웨터", "STRIPE KNIT", "아크릴 50%, 울 50%"),
             ("린넨 셔츠", "LINEN SHIRT", "린넨 100%"),
             ("크롭 후드 스웨트셔츠", "CROP HOODIE", "면 80%, 폴리 20%"),
             ("레이스 블라우스", "LACE BLOUSE", "폴리에스터 100%"),
             ("니트 조끼", "KNIT VEST", "울 100%"),
             ("Basic Crew Neck Tee", "CREW NECK TEE", "Cotton 100%")]),
    ("하의", [("와이드 데님 팬츠", "WIDE DENIM", "면 100%"),
             ("슬림 슬랙스", "SLIM SLACKS", "폴리 70%, 레이온 30%"),
             ("플리츠 미디 스커트", "PLEATS SKIRT", "폴리에스터 100%"),
             ("카고 조거 팬츠", "CARGO JOGGER", "면 100%"),
             ("코듀로이 반바지", "CORDUROY SHORTS", "면 100%"),
             ("Straight Fit Chinos", "CHINOS", "Cotton 97%, Elastane 3%")]),
    ("원피스", [("플로럴 쉬폰 원피스", "FLORAL DRESS", "폴리에스터 100%"),
              ("니트 롱 원피스", "KNIT LONG DRESS", "울 30%, 아크릴 70%"),
              ("셔츠 원피스", "SHIRT DRESS", "면 100%"),
              ("도트 랩 원피스", "DOT WRAP DRESS", "레이온 100%"),
              ("Little Black Dress", "BLACK DRESS", "Polyester 100%")]),
    ("신발", [("캔버스 스니커즈", "CANVAS SNEAKERS", "캔버스, 고무"),
             ("레더 로퍼", "LEATHER LOAFER", "소가죽"),
             ("청키 어글리 슈즈", "CHUNKY SHOES", "합성피혁, 메쉬"),
             ("앵클 부츠", "ANKLE BOOTS", "스웨이드"),
             ("스트랩 샌들", "STRAP SANDAL", "합성피혁"),
             ("Running Sneakers", "RUNNING SHOES", "Mesh, rubber")]),
    ("가방", [("캔버스 토트백", "CANVAS TOTE", "캔버스"),
             ("미니 크로스백", "MINI CROSS BAG", "합성피혁"),
             ("레더 숄더백", "SHOULDER BAG", "소가죽"),
             ("나일론 백팩", "NYLON BACKPACK", "나일론"),
             ("퀼팅 체인백", "QUILTED BAG", "양가죽")]),
    ("액세서리", [("울 머플러", "WOOL MUFFLER", "울 100%"),
               ("버킷 햇", "BUCKET HAT", "면 100%"),
               ("실버 체인 목걸이", "SILVER NECKLACE", "은 925"),
               ("가죽 벨트", "LEATHER BELT", "소가죽"),
               ("니트 비니", "KNIT BEANIE", "아크릴 100%"),
               ("진주 귀걸이", "PEARL EARRINGS", "담수진주")]),
]

LOW_STOCK = {3: 0, 11: 1, 19: 0, 27: 1, 35: 0}

# A query word also finds its synonyms (one way). Admins edit the list (admin page "Synonyms", PUT /synonyms).
SYNONYMS: dict[str, list[str]] = {
    "cardigan": ["가디건"], "가디건": ["cardigan"], "가디간": ["가디건"],
    "맨투맨": ["스웨트셔츠"], "스웨트셔츠": ["맨투맨"], "sweatshirt": ["스웨트셔츠"], "후디": ["후드"],
    "hoodie": ["후드"], "자켓": ["재킷"], "재킷": ["자켓"], "jacket": ["재킷", "자켓"], "청바지": ["데님"],
    "jeans": ["데님", "청바지"], "denim": ["데님"], "티": ["티셔츠"], "tshirt": ["티셔츠"], "tee": ["티셔츠"],
    "knit": ["니트"], "wool": ["울"], "coat": ["코트"], "shirt": ["셔츠"], "pants": ["팬츠"], "바지": ["팬츠"],
    "skirt": ["스커트"], "치마": ["스커트"], "sneakers": ["스니커즈"], "운동화": ["스니커즈"], "dress": ["원피스"],
    "bag": ["백"], "가방": ["백"], "muffler": ["머플러"], "목도리": ["머플러"], "beanie": ["비니"],
    "leather": ["레더"], "가죽": ["레더"], "레더": ["가죽"], "linen": ["린넨"], "padding": ["패딩"],
    "블레이져": ["블레이저"], "모자": ["햇", "비니"],
}


def _is_english(name: str) -> bool:
    return name.isascii()


def _product_text(type_name: str, name: str, material: str) -> tuple[str, str]:
    if _is_english(name):
        description = f"{name}: a timeless piece that goes with everything, comfortable from morning to night."
        content = (f"<h3>Product details</h3><p>{name} made of {material}. Relaxed fit, easy care.</p>"
                   "<ul><li>Machine wash cold</li><li>Model wears size M</li></ul>")
    else:
        description = f"{name} — 부드러운 소재와 편안한 핏으로 데일리룩에 잘 어울리는 {type_name} 아이템입니다."
        content = (f"<h3>상품 정보</h3><p>{name}은(는) {material} 소재로 만들어 가볍고 따뜻합니다.</p>"
                   "<ul><li>세탁: 찬물 손세탁 권장</li><li>모델 착용 사이즈: FREE</li></ul>")
    return description, content


async def seed_demo_data(service: Service, storage: ImageStorage) -> int:
    """Fill an empty catalog with 40+ products and 5 banners; return how many products were created."""
    db = service.db
    assert db is not None
    async with db.read_sessions() as session:
        if (await session.scalar(select(func.count()).select_from(Product))) or 0:
            return 0
    limits = ImageLimits()
    type_ids: dict[str, int] = {}
    async with service.uow() as uow:
        existing = dict((await uow.session.execute(select(ProductType.type, ProductType.id))).all())
        for type_name, _ in CATALOG:
            type_ids[type_name] = existing.get(type_name) or (await create_type(uow, type_name)).product_type_id
        await uow.commit()
    created: list[int] = []
    index = 0
    for type_name, items in CATALOG:
        for name, label, material in items:
            pattern = PATTERNS[index % len(PATTERNS)]
            main = await asyncio.to_thread(draw_product, index, f"#{index + 1} {label}", pattern, "PNG")
            extra = await asyncio.to_thread(draw_product, index + 17, label, PATTERNS[(index + 3) % 7], "WEBP")
            description, content = _product_text(type_name, name, material)
            styles = [STYLES[index % len(STYLES)]]
            if index % 3 == 0:
                styles.append(STYLES[(index + 2) % len(STYLES)])
            async with service.uow() as uow:
                images = [await store_image(uow.session, storage, check_image(data, limits)) for data in (main, extra)]
                detail = await create_product(uow, ProductWrite(
                    name=name, description=description, content=content, product_type_id=type_ids[type_name],
                    product_styles=styles, unit_price=9_900 + (index * 7_919) % 250_000 // 100 * 100,
                    quantity=LOW_STOCK.get(index, 20 + (index * 13) % 80), image_ids=[i.id for i in images]))
                await uow.commit()
            created.append(detail.product_id)
            index += 1
    async with db.read_sessions() as session:
        has_banners = (await session.scalar(select(func.count()).select_from(Banner))) or 0
    if not has_banners:
        titles = ("NEW ARRIVALS", "WINTER KNIT WEEK", "BEST OF STREET", "OFFICE LOOK", "VINTAGE PICKS")
        for position, title in enumerate(titles, start=1):
            data = await asyncio.to_thread(draw_banner, position, title)
            async with service.uow() as uow:
                await create_banner(uow, storage, check_image(data, limits),
                                    f"/products/{created[(position * 7) % len(created)]}", position)
                await uow.commit()
    async with db.read_sessions() as session:
        has_synonyms = bool((await list_synonyms(session)).items)
    if not has_synonyms:
        await replace_synonyms(service.uow(), SynonymList(items=[
            SynonymEntry(term=term, synonyms=words) for term, words in SYNONYMS.items()]))
    log.info("demo.seeded", products=len(created))
    return len(created)
