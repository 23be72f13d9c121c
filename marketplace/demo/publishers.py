"""The demo store's publishers, and the models their agents declare."""

from typing import NamedTuple


class Publisher(NamedTuple):
    slug: str
    name_en: str
    name_zh: str
    city: str  # a key of CITIES
    about_zh: str
    about_en: str
    lines: tuple[str, ...]  # keys of LINES; a line named twice gets twice the share
    size: int  # how many agents it lists


# fmt: off
# City: English name, the province's abbreviation used in filing numbers.
CITIES: dict[str, tuple[str, str]] = {
    "北京": ("Beijing", "京"), "上海": ("Shanghai", "沪"), "广州": ("Guangzhou", "粤"),
    "深圳": ("Shenzhen", "粤"), "佛山": ("Foshan", "粤"), "杭州": ("Hangzhou", "浙"),
    "宁波": ("Ningbo", "浙"), "南京": ("Nanjing", "苏"), "苏州": ("Suzhou", "苏"),
    "成都": ("Chengdu", "川"), "重庆": ("Chongqing", "渝"), "西安": ("Xi'an", "陕"),
    "武汉": ("Wuhan", "鄂"), "长沙": ("Changsha", "湘"), "合肥": ("Hefei", "皖"),
    "天津": ("Tianjin", "津"), "大连": ("Dalian", "辽"), "哈尔滨": ("Harbin", "黑"),
    "贵阳": ("Guiyang", "黔"), "厦门": ("Xiamen", "闽"), "昆明": ("Kunming", "滇"),
    "青岛": ("Qingdao", "鲁"), "桂林": ("Guilin", "桂"),
}

PUBLISHERS: tuple[Publisher, ...] = (
    Publisher("mingde-ai", "Mingde AI Ltd.", "明德智能", "北京",
        "办公与客户服务智能体", "office and customer-service agents",
        ("office", "service", "office", "hr"), 12),
    Publisher("yunqi-tech", "Yunqi Technology", "云启科技", "深圳",
        "面向研发与运维团队的智能体", "agents for software and operations teams",
        ("dev", "dev", "office"), 10),
    Publisher("hangzhou-lingxi", "Hangzhou Lingxi AI", "杭州灵犀智能", "杭州",
        "日常生活助理", "personal assistants for everyday life",
        ("life", "life", "home", "office"), 11),
    Publisher("beacon-labs", "Beacon Labs", "灯塔实验室", "上海",
        "互动娱乐与游戏", "interactive entertainment and games",
        ("fun", "fun", "music"), 11),
    Publisher("shenzhen-zhiyuan", "Shenzhen Zhiyuan Software", "深圳智远软件", "深圳",
        "电商客服与营销", "customer service and marketing for online shops",
        ("service", "commerce", "writing"), 10),
    Publisher("northwind-agents", "Northwind Agents", "北风智能体", "哈尔滨",
        "人力资源与行政", "HR and administration",
        ("hr", "hr", "office"), 8),
    Publisher("jiangnan-health", "Jiangnan Health Tech", "江南健康科技", "杭州",
        "面向患者与家庭的健康服务", "health services for patients and families",
        ("health", "health", "care"), 12),
    Publisher("silkroad-travel", "Silk Road Travel AI", "丝路出行智能", "西安",
        "旅行与出行", "travel and getting around",
        ("travel", "transit", "culture"), 10),
    Publisher("redbrick-edu", "Red Brick Education", "红砖教育", "北京",
        "中小学课后辅导", "after-school tutoring for pupils",
        ("k12", "k12", "kids"), 12),
    Publisher("pearl-finance", "Pearl River Fintech", "珠江金融科技", "广州",
        "个人理财与银行服务", "personal finance and banking",
        ("money", "bank"), 9),
    Publisher("open-desk", "Open Desk Studio", "开放工作室", "成都",
        "小而精的办公工具", "small, focused office tools",
        ("office", "writing"), 6),
    Publisher("qingcheng-media", "Qingcheng Media Lab", "青城传媒实验室", "成都",
        "新闻编辑与视频制作", "newsroom and video tools",
        ("news", "video"), 10),
    Publisher("huakang-medical", "Huakang Medical AI", "华康医疗智能", "北京",
        "面向医院与医生的临床工具", "clinical tools for hospitals and doctors",
        ("clinic", "clinic", "health"), 9),
    Publisher("renxin-health", "Renxin Digital Health", "仁心数字健康", "成都",
        "慢病管理与居家照护", "chronic care and care at home",
        ("care", "health"), 8),
    Publisher("xinglin-tcm", "Xinglin TCM Tech", "杏林中医科技", "南京",
        "中医药健康服务", "traditional Chinese medicine services",
        ("tcm",), 7),
    Publisher("pujiang-fintech", "Pujiang Digital Finance", "浦江数科", "上海",
        "企业财务与合规", "corporate finance and compliance",
        ("bizfin", "bizfin", "tax"), 9),
    Publisher("dingxin-insurtech", "Dingxin InsurTech", "鼎信保险科技", "深圳",
        "保险服务", "insurance services",
        ("insure", "money"), 7),
    Publisher("qiantang-tax", "Qiantang Tax & Accounting AI", "钱塘财税智能", "杭州",
        "小微企业财税服务", "tax and bookkeeping for small businesses",
        ("tax", "bizfin", "office"), 8),
    Publisher("tongtu-mobility", "Tongtu Mobility", "通途智行", "武汉",
        "城市交通出行", "getting around the city",
        ("transit", "transit"), 9),
    Publisher("gangcheng-logistics", "Harbour City Logistics AI", "港城物流智能",
        "宁波",
        "物流与供应链", "logistics and supply chains",
        ("freight", "freight", "office"), 8),
    Publisher("shushan-academy", "Shushan Academy", "书山学堂", "长沙",
        "成人考试与职业教育", "adult exams and vocational training",
        ("adult", "adult", "lang"), 10),
    Publisher("qimingxing-edu", "Qimingxing Education", "启明星教育", "合肥",
        "少儿科学与阅读", "science and reading for children",
        ("kids", "kids", "culture"), 9),
    Publisher("yuqiao-language", "Yuqiao Language Lab", "语桥语言实验室", "大连",
        "外语学习与翻译", "language learning and translation",
        ("lang", "lang", "travel"), 8),
    Publisher("zhengtong-digital", "Zhengtong Digital Government", "政通数字政务",
        "贵阳", "政务服务", "government services",
        ("gov", "gov", "city"), 10),
    Publisher("chengmai-city", "Chengmai Smart City", "城脉智慧城市", "苏州",
        "智慧社区与城市治理", "smart communities and city management",
        ("city", "gov", "safety"), 8),
    Publisher("faheng-legal", "Faheng Legal AI", "法衡智能", "北京",
        "面向公众的法律服务", "legal services for the public",
        ("law", "law", "court"), 9),
    Publisher("minglv-legaltech", "Minglv LegalTech", "明律科技", "重庆",
        "法院与律所工具", "tools for courts and law firms",
        ("court", "court", "law"), 8),
    Publisher("anlan-emergency", "Anlan Emergency Tech", "安澜应急科技", "天津",
        "应急管理与防灾减灾", "emergency management and disaster prevention",
        ("safety", "safety"), 7),
    Publisher("shouwang-safety", "Shouwang Safety", "守望安全", "厦门",
        "反诈与安全教育", "fraud prevention and safety education",
        ("antifraud", "antifraud", "safety"), 7),
    Publisher("xinghe-news", "Xinghe News AI", "星河新闻智能", "上海",
        "新闻资讯与事实核查", "news and fact-checking",
        ("news", "news", "video"), 8),
    Publisher("modian-content", "Modian Content Studio", "墨点内容工作室", "杭州",
        "内容创作", "content for creators",
        ("writing", "video", "video"), 8),
    Publisher("yanhuo-life", "Yanhuo Life", "烟火生活", "昆明",
        "吃喝玩乐与本地生活", "food, outings and local life",
        ("life", "life"), 8),
    Publisher("anju-smarthome", "Anju Smart Home", "安居智家", "佛山",
        "智能家居", "smart homes",
        ("home", "home", "life"), 7),
    Publisher("jingming-music", "Jingming Music", "鲸鸣音乐", "青岛",
        "音乐与音频", "music and audio",
        ("music",), 6),
    Publisher("tongqu-planet", "Tongqu Planet", "童趣星球", "广州",
        "儿童故事与游戏", "stories and games for children",
        ("kids",), 8),
    Publisher("haiyun-culture", "Haiyun Culture & Tourism", "海韵文旅", "桂林",
        "文化旅游", "culture and tourism",
        ("culture", "culture", "travel"), 7),
)

# The models the agents declare they depend on, one family per publisher; on-device
# agents declare a small model.
MODELS = (
    ("Qwen3", "Alibaba Cloud"), ("DeepSeek-V3", "DeepSeek"), ("GLM-4", "Zhipu AI"),
    ("ERNIE 4.5", "Baidu"), ("Hunyuan", "Tencent"),
    ("Doubao-1.5-pro", "Volcano Engine"),
)
ON_DEVICE_MODEL = ("Qwen3-4B", "Alibaba Cloud")
# fmt: on
